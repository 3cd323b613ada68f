package main

import (
	"fmt"
	"testing"
)

// go test -run '^$' -bench . -benchtime 2000x
func BenchmarkLeaseUpdateHTTP2(b *testing.B) {
	e := newEnv(b)
	r := e.do("POST", leasesPath, lease("bench", "a", 10))
	cur := r.body
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cur["spec"].(map[string]interface{})["holderIdentity"] = fmt.Sprintf("h%d", i)
		r = e.do("PUT", leasesPath+"/bench", cur)
		if r.code != 200 {
			b.Fatalf("%d %s", r.code, r.raw)
		}
		cur = r.body
	}
}

func BenchmarkConfigMapCreateWithWebhook(b *testing.B) {
	e := newEnv(b)
	h := newHookServer(b, "127.0.0.1")
	e.do("POST", vwcPath, map[string]interface{}{"metadata": map[string]interface{}{"name": "b"},
		"webhooks": []interface{}{webhookSpec("bench.example.com", "https://"+h.addr+"/", h.caPEM)}})
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := e.do("POST", cmPath, cmBody(fmt.Sprintf("b%d", i), nil))
		if r.code != 201 {
			b.Fatalf("%d %s", r.code, r.raw)
		}
	}
}
