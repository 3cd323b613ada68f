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

// groupVersions lists the served API groups and, for each, its versions,
// preferred (highest priority) first, as /apis shows them.
func (s *sim) groupVersions() ([]string, map[string][]string) {
	var groups []string
	versions := map[string][]string{}
	for _, r := range s.resources() {
		if r.group == "" {
			continue
		}
		if _, ok := versions[r.group]; !ok {
			groups = append(groups, r.group)
		}
		if !contains(versions[r.group], r.version) {
			versions[r.group] = append(versions[r.group], r.version)
		}
	}
	sort.Strings(groups)
	for _, g := range groups {
		sortVersions(versions[g])
	}
	return groups, versions
}

func (s *sim) resourceList(group, version string) obj {
	var rl []interface{}
	found := false
	for _, r := range s.resources() {
		if r.group != group || r.version != version {
			continue
		}
		found = true
		e := obj{"name": r.resource, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs}
		if len(r.shortNames) > 0 {
			e["shortNames"] = r.shortNames
		}
		if len(r.categories) > 0 {
			e["categories"] = r.categories
		}
		rl = append(rl, e)
		if r.hasStatus() {
			rl = append(rl, obj{"name": r.resource + "/status", "singularName": "", "namespaced": r.namespaced, "kind": r.kind,
				"verbs": []string{"get", "patch", "update"}})
		}
	}
	if !found {
		return nil
	}
	gv := version
	if group != "" {
		gv = group + "/" + version
	}
	return obj{"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": rl}
}

func apiGroup(g string, versions []string) obj {
	var vs []interface{}
	for _, v := range versions {
		vs = append(vs, obj{"groupVersion": g + "/" + v, "version": v})
	}
	return obj{"name": g, "versions": vs, "preferredVersion": vs[0]}
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
		groups := []interface{}{}
		names, versions := s.groupVersions()
		for _, g := range names {
			groups = append(groups, apiGroup(g, versions[g]))
		}
		rc.reply(200, obj{"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
		return true
	case p == "/api/v1":
		rc.reply(200, s.resourceList("", "v1"))
		return true
	case strings.HasPrefix(p, "/apis/"):
		parts := strings.Split(strings.TrimPrefix(p, "/apis/"), "/")
		if len(parts) == 1 {
			if _, versions := s.groupVersions(); len(versions[parts[0]]) > 0 {
				g := apiGroup(parts[0], versions[parts[0]])
				g["kind"], g["apiVersion"] = "APIGroup", "v1"
				rc.reply(200, g)
				return true
			}
			rc.fail(errNotFoundPath())
			return true
		}
		if len(parts) == 2 {
			if rl := s.resourceList(parts[0], parts[1]); rl != nil {
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
