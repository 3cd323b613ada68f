package main

import (
	"net/http"
	"sort"
	"strings"
)

func versionInfo() map[string]string {
	return map[string]string{"major": "1", "minor": "32", "gitVersion": "v1.32.4", "gitCommit": "59526cd4867447956156ae3a602fcbac10a2c335",
		"gitTreeState": "clean", "buildDate": "2025-04-22T16:02:27Z", "goVersion": "go1.23.8", "compiler": "gc", "platform": "linux/amd64"}
}

func groupsOf() []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range allResources {
		if r.group != "" && !seen[r.group] {
			seen[r.group] = true
			out = append(out, r.group)
		}
	}
	sort.Strings(out)
	return out
}

func resourceList(group, version string) obj {
	var rl []interface{}
	for _, r := range allResources {
		if r.group != group || r.version != version {
			continue
		}
		e := obj{"name": r.resource, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs}
		if len(r.shortNames) > 0 {
			e["shortNames"] = r.shortNames
		}
		if len(r.categories) > 0 {
			e["categories"] = r.categories
		}
		if r.createOnly {
			e["storageVersionHash"] = nil
			delete(e, "storageVersionHash")
		}
		rl = append(rl, e)
	}
	if len(rl) == 0 {
		return nil
	}
	gv := version
	if group != "" {
		gv = group + "/" + version
	}
	return obj{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rl}
}

// serveDiscovery answers /api, /apis, /api/v1, /apis/G, /apis/G/V and the
// OpenAPI paths.  Aggregated discovery is not served: the plain form is the
// answer to every Accept, which clients accept as the fallback.
func (s *sim) serveDiscovery(rc *reqCtx, p string) bool {
	if rc.r.Method != http.MethodGet {
		return false
	}
	switch {
	case p == "/api":
		rc.reply(200, obj{"kind": "APIVersions", "versions": []string{"v1"},
			"serverAddressByClientCIDRs": []interface{}{obj{"clientCIDR": "0.0.0.0/0", "serverAddress": rc.r.Host}}})
		return true
	case p == "/apis":
		var groups []interface{}
		for _, g := range groupsOf() {
			gv := obj{"groupVersion": g + "/v1", "version": "v1"}
			groups = append(groups, obj{"name": g, "versions": []interface{}{gv}, "preferredVersion": gv})
		}
		rc.reply(200, obj{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
		return true
	case p == "/api/v1":
		rc.reply(200, resourceList("", "v1"))
		return true
	case strings.HasPrefix(p, "/apis/"):
		parts := strings.Split(strings.TrimPrefix(p, "/apis/"), "/")
		if len(parts) == 1 {
			for _, g := range groupsOf() {
				if g == parts[0] {
					gv := obj{"groupVersion": g + "/v1", "version": "v1"}
					rc.reply(200, obj{"kind": "APIGroup", "apiVersion": "v1", "name": g, "versions": []interface{}{gv}, "preferredVersion": gv})
					return true
				}
			}
			rc.fail(errNotFoundPath())
			return true
		}
		if len(parts) == 2 {
			if rl := resourceList(parts[0], parts[1]); rl != nil {
				rc.reply(200, rl)
			} else {
				rc.fail(errNotFoundPath())
			}
			return true
		}
	case p == "/openapi/v2" || strings.HasPrefix(p, "/openapi/v3"):
		return s.serveOpenAPI(rc, p)
	}
	return false
}
