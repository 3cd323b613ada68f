package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
)

// OpenAPI: kube-sim serves a minimal OpenAPI v3 (one document per
// group-version with the paths and their query parameters, no schemas).  That
// is what kubectl 1.32 needs: it finds `fieldValidation` on the PATCH
// operations, so it leaves validation to the server (fieldValidation=Strict)
// instead of downloading schemas; `kubectl apply` then builds its strategic
// merge patch from its compiled-in types.  /openapi/v2 is 404.

func gvPath(group, version string) string {
	if group == "" {
		return "api/" + version
	}
	return "apis/" + group + "/" + version
}

func (s *sim) openAPIDoc(group, version string) obj {
	paths := obj{}
	param := func(name, in string) obj {
		p := obj{"name": name, "in": in, "schema": obj{"type": "string", "uniqueItems": true}}
		if in == "path" {
			p["required"] = true
		}
		return p
	}
	writeParams := []interface{}{param("dryRun", "query"), param("fieldManager", "query"), param("fieldValidation", "query"), param("pretty", "query")}
	for _, r := range s.resources() {
		if r.group != group || r.version != version {
			continue
		}
		gvk := obj{"group": r.group, "version": r.version, "kind": r.kind}
		op := func(action string, params []interface{}) obj {
			return obj{"operationId": action + r.kind, "parameters": params, "x-kubernetes-action": action,
				"x-kubernetes-group-version-kind": gvk,
				"responses":                       obj{"200": obj{"description": "OK"}, "401": obj{"description": "Unauthorized"}}}
		}
		base := "/" + gvPath(group, version)
		var coll, item string
		var pathParams []interface{}
		if r.namespaced {
			coll = base + "/namespaces/{namespace}/" + r.resource
			pathParams = append(pathParams, param("namespace", "path"))
		} else {
			coll = base + "/" + r.resource
		}
		item = coll + "/{name}"
		listParams := []interface{}{param("labelSelector", "query"), param("fieldSelector", "query"), param("resourceVersion", "query"),
			param("resourceVersionMatch", "query"), param("timeoutSeconds", "query"), param("watch", "query"), param("allowWatchBookmarks", "query"),
			param("limit", "query"), param("continue", "query")}
		cp := obj{"parameters": pathParams, "post": op("post", writeParams)}
		if !r.createOnly {
			cp["get"] = op("list", listParams)
			ip := obj{"parameters": append(append([]interface{}{}, pathParams...), param("name", "path")),
				"get":    op("get", []interface{}{param("pretty", "query")}),
				"put":    op("put", writeParams),
				"patch":  op("patch", append(append([]interface{}{}, writeParams...), param("force", "query"))),
				"delete": op("delete", []interface{}{param("dryRun", "query"), param("gracePeriodSeconds", "query"), param("propagationPolicy", "query")})}
			paths[item] = ip
		}
		paths[coll] = cp
	}
	return obj{"openapi": "3.0.0", "info": obj{"title": "Kubernetes", "version": "v1.32.4"}, "paths": paths, "components": obj{"schemas": obj{}}}
}

func (s *sim) serveOpenAPI(rc *reqCtx, p string) bool {
	if p == "/openapi/v3" {
		paths := obj{}
		gvs := [][2]string{{"", "v1"}}
		groups, versions := s.groupVersions()
		for _, g := range groups {
			for _, v := range versions[g] {
				gvs = append(gvs, [2]string{g, v})
			}
		}
		for _, gv := range gvs {
			b, _ := json.Marshal(s.openAPIDoc(gv[0], gv[1]))
			sum := sha256.Sum256(b)
			hash := strings.ToUpper(hex.EncodeToString(sum[:]))[:32]
			paths[gvPath(gv[0], gv[1])] = obj{"serverRelativeURL": "/openapi/v3/" + gvPath(gv[0], gv[1]) + "?hash=" + hash}
		}
		rc.reply(200, obj{"paths": paths})
		return true
	}
	if strings.HasPrefix(p, "/openapi/v3/") {
		rest := strings.TrimPrefix(p, "/openapi/v3/")
		parts := strings.Split(rest, "/")
		switch {
		case len(parts) == 2 && parts[0] == "api" && parts[1] == "v1":
			rc.reply(200, s.openAPIDoc("", "v1"))
			return true
		case len(parts) == 3 && parts[0] == "apis":
			if _, versions := s.groupVersions(); contains(versions[parts[1]], parts[2]) {
				rc.reply(200, s.openAPIDoc(parts[1], parts[2]))
				return true
			}
		}
	}
	rc.fail(errNotFoundPath())
	return true
}
