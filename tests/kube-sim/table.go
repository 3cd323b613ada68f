package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// Table output (Accept: application/json;as=Table;v=v1;g=meta.k8s.io), which
// kubectl get asks for: the columns kube-apiserver prints for each type.

func wantsTable(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept"), ",") {
		if strings.Contains(part, "as=Table") && strings.Contains(part, "g=meta.k8s.io") && strings.Contains(part, "v=v1") &&
			!strings.Contains(part, "v=v1beta1") {
			return true
		}
	}
	return false
}

type column struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Format      string `json:"format"`
	Description string `json:"description"`
	Priority    int    `json:"priority"`
}

var (
	colName = column{Name: "Name", Type: "string", Format: "name", Description: "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"}
	colAge  = column{Name: "Age", Type: "string", Description: "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}
)

func tableColumns(res *resDef) []column {
	if cv := res.cr(); cv != nil {
		return crColumns(cv)
	}
	switch res {
	case resLeases:
		return []column{colName, {Name: "Holder", Type: "string", Description: "holderIdentity contains the identity of the holder of a current lease. If Coordinated Leader Election is used, the holder identity must be equal to the elected LeaseCandidate.metadata.name field."}, colAge}
	case resConfigMaps:
		return []column{colName, {Name: "Data", Type: "integer", Description: "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."}, colAge}
	case resNamespaces:
		return []column{colName, {Name: "Status", Type: "string", Description: "The status of the namespace"}, colAge}
	case resVWCs:
		return []column{colName, {Name: "Webhooks", Type: "integer", Description: "Webhooks is a list of webhooks and the affected resources and operations."}, colAge}
	case resCRDs:
		return []column{colName, {Name: "Created At", Type: "date", Description: "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata"}}
	}
	return []column{colName, colAge}
}

func tableCells(res *resDef, o obj) []interface{} {
	if cv := res.cr(); cv != nil {
		return crCells(cv, o)
	}
	age := "<unknown>"
	if ts, err := time.Parse(time.RFC3339, metaString(o, "creationTimestamp")); err == nil {
		age = humanDuration(time.Since(ts))
	}
	name := metaString(o, "name")
	switch res {
	case resLeases:
		return []interface{}{name, str(o, "spec", "holderIdentity"), age}
	case resConfigMaps:
		d, _ := o["data"].(map[string]interface{})
		b, _ := o["binaryData"].(map[string]interface{})
		return []interface{}{name, len(d) + len(b), age}
	case resNamespaces:
		return []interface{}{name, str(o, "status", "phase"), age}
	case resVWCs:
		w, _ := o["webhooks"].([]interface{})
		return []interface{}{name, len(w), age}
	case resCRDs:
		return []interface{}{name, metaString(o, "creationTimestamp")}
	}
	return []interface{}{name, age}
}

func tableRowObject(res *resDef, o obj, include string) interface{} {
	switch include {
	case "None":
		return nil
	case "Object":
		return o
	}
	m := copyObj(meta(copyObj(o)))
	return obj{"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": m}
}

func makeTable(r *http.Request, res *resDef, items []obj, rv string, headers bool) obj {
	include := r.URL.Query().Get("includeObject")
	rows := make([]interface{}, 0, len(items))
	for _, o := range items {
		row := obj{"cells": tableCells(res, o)}
		if ro := tableRowObject(res, o, include); ro != nil {
			row["object"] = ro
		}
		rows = append(rows, row)
	}
	t := obj{"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": obj{}, "rows": rows}
	if rv != "" {
		t["metadata"] = obj{"resourceVersion": rv}
	}
	if headers {
		t["columnDefinitions"] = tableColumns(res)
	} else {
		t["columnDefinitions"] = nil
	}
	return t
}

// humanDuration is k8s.io/apimachinery/pkg/util/duration.HumanDuration.
func humanDuration(d time.Duration) string {
	if seconds := int(d.Seconds()); seconds < -1 {
		return "<invalid>"
	} else if seconds < 0 {
		return "0s"
	} else if seconds < 60*2 {
		return fmt.Sprintf("%ds", seconds)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		return twoUnits(minutes, "m", int(d/time.Second)%60, "s")
	} else if minutes < 60*3 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	switch {
	case hours < 8:
		return twoUnits(hours, "h", int(d/time.Minute)%60, "m")
	case hours < 48:
		return fmt.Sprintf("%dh", hours)
	case hours < 24*8:
		return twoUnits(hours/24, "d", hours%24, "h")
	case hours < 24*365*2:
		return fmt.Sprintf("%dd", hours/24)
	case hours < 24*365*8:
		return twoUnits(hours/24/365, "y", (hours/24)%365, "d")
	}
	return fmt.Sprintf("%dy", hours/24/365)
}

// twoUnits prints N units U, then M units V unless M is 0 ("5m3s", "2d").
func twoUnits(n int, u string, m int, v string) string {
	if m == 0 {
		return fmt.Sprintf("%d%s", n, u)
	}
	return fmt.Sprintf("%d%s%d%s", n, u, m, v)
}

// str digs a string out of nested maps: str(m, "metadata", "name").
func str(m map[string]interface{}, path ...string) string {
	var cur interface{} = m
	for _, p := range path {
		mm, ok := cur.(map[string]interface{})
		if !ok {
			return ""
		}
		cur = mm[p]
	}
	switch v := cur.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case nil:
		return ""
	default:
		b, _ := json.Marshal(v)
		return string(b)
	}
}
