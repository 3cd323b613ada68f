package main

import (
	"math/rand"
	"strings"
	"testing"
)

// Malformed requests get 4xx, never a 5xx or a hang, and the server keeps serving.
func TestMalformedRequests(t *testing.T) {
	e := newEnv(t)
	mustCode(t, "lease", e.do("POST", leasesPath, lease("m", "a", 10)), 201)
	mustCode(t, "cm", e.do("POST", cmPath, cmBody("m", nil)), 201)
	bodies := []string{``, `null`, `[]`, `"x"`, `1`, `{`, `{"metadata":"x"}`, `{"metadata":{"name":1}}`, `{"metadata":{"name":"m","labels":{"a":1}}}`,
		`{"metadata":{"name":"m"},"spec":"x"}`, `{"metadata":{"name":"m"},"spec":{"leaseDurationSeconds":"x"}}`,
		`{"metadata":{"name":"m"},"spec":{"leaseDurationSeconds":99999999999}}`, `{"metadata":{"name":"m"},"spec":{"renewTime":5}}`,
		`{"metadata":{"name":"m"},"data":{"a":1}}`, `{"metadata":{"name":"m"},"data":"x"}`, `{"metadata":{"name":"m"},"binaryData":{"a":"!!"}}`,
		`{"metadata":{"name":"m"},"webhooks":"x"}`, `{"metadata":{"name":"m"},"webhooks":[1]}`, `{"metadata":{"name":"m"},"webhooks":[{"rules":"x"}]}`,
		`{"metadata":{"name":"m"},"webhooks":[{"name":"a.b.c","clientConfig":{"service":{"port":"x"}}}]}`,
		`{"kind":"Pod","metadata":{"name":"m"}}`, `{"apiVersion":"v2","metadata":{"name":"m"}}`, `{"metadata":{"name":"m","resourceVersion":5}}`}
	patches := []string{`{"metadata":"x"}`, `{"metadata":{"name":"other"}}`, `[{"op":"replace","path":"","value":[]}]`, `[{"op":"remove","path":"/nope"}]`,
		`[{"op":"bogus"}]`, `{"spec":{"leaseDurationSeconds":null,"renewTime":"bad"}}`, `{"$patch":"delete"}`, `{"metadata":{"labels":{"a":{"b":1}}}}`, `x`}
	paths := []string{leasesPath, cmPath, vwcPath, "/api/v1/namespaces", "/apis/authentication.k8s.io/v1/tokenreviews"}
	items := []string{leasesPath + "/m", cmPath + "/m", vwcPath + "/m", "/api/v1/namespaces/m"}
	r := rand.New(rand.NewSource(1))
	check := func(what string, got resp) {
		t.Helper()
		if got.code >= 500 {
			t.Errorf("%s: %d %s", what, got.code, got.raw)
		}
	}
	for _, b := range bodies {
		for _, p := range paths {
			check("POST "+p+" "+b, e.req(e.h2, "POST", p, e.token, "application/json", b))
		}
		for _, p := range items {
			check("PUT "+p+" "+b, e.req(e.h2, "PUT", p, e.token, "application/json", b))
		}
	}
	for _, b := range patches {
		for _, p := range items[:3] {
			for _, ct := range []string{"application/merge-patch+json", "application/strategic-merge-patch+json", "application/json-patch+json"} {
				check("PATCH "+p+" "+ct+" "+b, e.req(e.h2, "PATCH", p, e.token, ct, b))
			}
		}
	}
	for i := 0; i < 200; i++ {
		b := []byte(bodies[r.Intn(len(bodies))])
		if len(b) > 0 {
			b[r.Intn(len(b))] = byte(r.Intn(256))
		}
		p := items[r.Intn(len(items))]
		check("fuzz PUT "+p, e.req(e.h2, "PUT", p, e.token, "application/vnd.kubernetes.protobuf", "k8s\x00"+string(b)))
		check("fuzz POST "+p, e.req(e.h2, "POST", paths[r.Intn(len(paths))], e.token, "application/json", string(b)))
	}
	for _, q := range []string{"?watch=1&resourceVersion=x", "?watch=1&timeoutSeconds=-1", "?labelSelector=a+in+(", "?labelSelector=%3D%3D", "?fieldSelector=x", "?resourceVersion=abc"} {
		got := e.do("GET", leasesPath+q, nil)
		if got.code >= 500 && !strings.Contains(q, "resourceVersion=abc") {
			t.Errorf("GET %s: %d %s", q, got.code, got.raw)
		}
	}
	mustCode(t, "still serving", e.do("GET", leasesPath+"/m", nil), 200)
}

// JSON pointers round-trip through jpJoin and jpTokens (RFC 6901 escapes).
func TestJSONPointerJoin(t *testing.T) {
	toks := []string{"metadata", "annotations", "example.com/a~b", ""}
	p := jpJoin(toks)
	if p != "/metadata/annotations/example.com~1a~0b/" {
		t.Errorf("jpJoin: %q", p)
	}
	back, err := jpTokens(p)
	if err != nil || strings.Join(back, "|") != strings.Join(toks, "|") {
		t.Errorf("jpTokens(%q) = %q, %v", p, back, err)
	}
}
