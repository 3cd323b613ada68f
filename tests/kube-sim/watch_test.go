package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestWatchFromResourceVersionNoLossNoDup(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", leasesPath, lease("w", "a", 10))
	rv0 := str(r.body, "metadata", "resourceVersion")
	cur := r.body
	var want []string
	for i := 0; i < 5; i++ {
		cur["spec"].(map[string]interface{})["holderIdentity"] = fmt.Sprintf("h%d", i)
		r = e.do("PUT", leasesPath+"/w", cur)
		mustCode(t, "update", r, 200)
		cur = r.body
		want = append(want, "MODIFIED/"+str(r.body, "metadata", "resourceVersion"))
	}
	for _, c := range []struct {
		name string
		cl   func() *watchStream
	}{
		{"h2", func() *watchStream { return e.watch(e.h2, leasesPath+"?watch=1&resourceVersion="+rv0) }},
		{"h1", func() *watchStream { return e.watch(e.h1, leasesPath+"?watch=true&resourceVersion="+rv0) }},
	} {
		ws := c.cl()
		if c.name == "h1" && ws.proto != "HTTP/1.1" || c.name == "h2" && ws.proto != "HTTP/2.0" {
			t.Errorf("%s: proto %s", c.name, ws.proto)
		}
		if c.name == "h1" && len(ws.res.TransferEncoding) == 0 {
			t.Errorf("h1 watch not chunked")
		}
		var got []string
		for range want {
			ev := ws.next(3 * time.Second)
			if ev == nil {
				t.Fatalf("%s: stream ended early, got %v", c.name, got)
			}
			got = append(got, str(ev, "type")+"/"+str(ev, "object", "metadata", "resourceVersion"))
		}
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("%s: got %v want %v", c.name, got, want)
		}
	}
	// Live events while writers run: every resourceVersion exactly once, in order.
	ws := e.watch(e.h2, leasesPath+"?watch=1&resourceVersion="+str(cur, "metadata", "resourceVersion"))
	done := make(chan []string)
	go func() {
		var rvs []string
		for i := 0; i < 40; i++ {
			r := e.do("POST", leasesPath, lease(fmt.Sprintf("x%d", i), "a", 10))
			rvs = append(rvs, "ADDED/"+str(r.body, "metadata", "resourceVersion"))
		}
		done <- rvs
	}()
	wantLive := <-done
	var got []string
	for len(got) < len(wantLive) {
		ev := ws.next(3 * time.Second)
		if ev == nil {
			break
		}
		got = append(got, str(ev, "type")+"/"+str(ev, "object", "metadata", "resourceVersion"))
	}
	if strings.Join(got, " ") != strings.Join(wantLive, " ") {
		t.Errorf("live: got %v want %v", got, wantLive)
	}
	if ev := ws.next(200 * time.Millisecond); ev != nil {
		t.Errorf("extra event %v", ev)
	}
}

func TestWatchInitialStateAndDelete(t *testing.T) {
	e := newEnv(t)
	mustCode(t, "c", e.do("POST", leasesPath, lease("a", "x", 10)), 201)
	mustCode(t, "c", e.do("POST", leasesPath, lease("b", "x", 10)), 201)
	ws := e.watch(e.h2, leasesPath+"?watch=1")
	for _, n := range []string{"a", "b"} {
		ev := ws.next(2 * time.Second)
		if str(ev, "type") != "ADDED" || str(ev, "object", "metadata", "name") != n {
			t.Errorf("initial: %v", ev)
		}
	}
	r := e.do("DELETE", leasesPath+"/a", nil)
	mustCode(t, "delete", r, 200)
	ev := ws.next(2 * time.Second)
	if str(ev, "type") != "DELETED" || str(ev, "object", "metadata", "name") != "a" || str(ev, "object", "kind") != "Lease" {
		t.Errorf("delete event: %v", ev)
	}
}

func TestWatchSelectors(t *testing.T) {
	e := newEnv(t)
	ws := e.watch(e.h2, leasesPath+"?watch=1&resourceVersion=4&fieldSelector=metadata.name%3Done")
	wl := e.watch(e.h2, leasesPath+"?watch=1&resourceVersion=4&labelSelector=role%3Dleader")
	mustCode(t, "c", e.do("POST", leasesPath, lease("two", "x", 10)), 201)
	r := e.do("POST", leasesPath, lease("one", "x", 10))
	mustCode(t, "c", r, 201)
	if ev := ws.next(2 * time.Second); str(ev, "object", "metadata", "name") != "one" || str(ev, "type") != "ADDED" {
		t.Errorf("field selector: %v", ev)
	}
	// Labelled in, then out: ADDED then DELETED through the label selector.
	r = e.req(e.h2, "PATCH", leasesPath+"/two", e.token, "application/merge-patch+json", `{"metadata":{"labels":{"role":"leader"}}}`)
	mustCode(t, "label", r, 200)
	r = e.req(e.h2, "PATCH", leasesPath+"/two", e.token, "application/merge-patch+json", `{"metadata":{"labels":{"role":null}}}`)
	mustCode(t, "unlabel", r, 200)
	if ev := wl.next(2 * time.Second); str(ev, "type") != "ADDED" || str(ev, "object", "metadata", "name") != "two" {
		t.Errorf("label in: %v", ev)
	}
	if ev := wl.next(2 * time.Second); str(ev, "type") != "DELETED" {
		t.Errorf("label out: %v", ev)
	}
	r = e.do("GET", leasesPath+"?labelSelector=role+in+(leader,x),!missing", nil)
	mustCode(t, "list selector", r, 200)
	if str(r.body, "items") != "[]" {
		t.Errorf("selector list: %s", r.raw)
	}
	mustCode(t, "bad field selector", e.do("GET", leasesPath+"?fieldSelector=spec.holderIdentity%3Dx", nil), 400)
}

func TestWatchBookmarksAndTimeout(t *testing.T) {
	e := newEnv(t, func(o *options) { o.bookmarkInterval = 200 * time.Millisecond })
	r := e.do("POST", leasesPath, lease("bm", "a", 10))
	rv := str(r.body, "metadata", "resourceVersion")
	ws := e.watch(e.h2, leasesPath+"?watch=1&allowWatchBookmarks=true&timeoutSeconds=1&resourceVersion="+rv)
	ev := ws.next(2 * time.Second)
	if str(ev, "type") != "BOOKMARK" || str(ev, "object", "metadata", "resourceVersion") != rv || str(ev, "object", "kind") != "Lease" {
		t.Fatalf("bookmark: %v", ev)
	}
	if str(ev, "object", "metadata", "name") != "" {
		t.Errorf("bookmark carries a name: %v", ev)
	}
	t0 := time.Now()
	if !ws.ended(4 * time.Second) {
		t.Fatal("timeoutSeconds=1 did not end the watch")
	}
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("watch ended late: %v", d)
	}
	// Without allowWatchBookmarks: none.
	ws = e.watch(e.h2, leasesPath+"?watch=1&timeoutSeconds=1&resourceVersion="+rv)
	if ev := ws.next(1500 * time.Millisecond); ev != nil {
		t.Errorf("unexpected event %v", ev)
	}
}

func TestWatchGoneAfterCompactAndCloseWatches(t *testing.T) {
	e := newEnv(t)
	r := e.do("POST", leasesPath, lease("g", "a", 10))
	rv := str(r.body, "metadata", "resourceVersion")
	ws := e.watch(e.h1, leasesPath+"?watch=1&resourceVersion="+rv)
	res := e.ctlPost("/faults/close-watches")
	if res["closed"].(float64) < 1 {
		t.Errorf("closed %v", res)
	}
	if !ws.ended(2 * time.Second) {
		t.Fatal("close-watches did not end the stream")
	}
	mustCode(t, "u", e.req(e.h2, "PATCH", leasesPath+"/g", e.token, "application/merge-patch+json", `{"spec":{"holderIdentity":"b"}}`), 200)
	cur := e.ctlPost("/faults/compact")["resourceVersion"].(string)
	ws = e.watch(e.h2, leasesPath+"?watch=1&resourceVersion="+rv)
	ev := ws.next(2 * time.Second)
	if str(ev, "type") != "ERROR" || str(ev, "object", "code") != "410" || str(ev, "object", "reason") != "Expired" ||
		str(ev, "object", "message") != fmt.Sprintf("too old resource version: %s (%s)", rv, cur) || str(ev, "object", "kind") != "Status" {
		t.Errorf("gone: %v", ev)
	}
	if !ws.ended(time.Second) {
		t.Errorf("stream did not end after ERROR")
	}
	wantStatus(t, "exact list", e.do("GET", leasesPath+"?resourceVersion="+rv+"&resourceVersionMatch=Exact", nil), 410, "Expired",
		fmt.Sprintf("too old resource version: %s (%s)", rv, cur), "")
	mustCode(t, "NotOlderThan list", e.do("GET", leasesPath+"?resourceVersion="+rv, nil), 200)
	// From the current resourceVersion the watch works.
	ws = e.watch(e.h2, leasesPath+"?watch=1&resourceVersion="+cur)
	mustCode(t, "u", e.req(e.h2, "PATCH", leasesPath+"/g", e.token, "application/merge-patch+json", `{"spec":{"holderIdentity":"c"}}`), 200)
	if ev := ws.next(2 * time.Second); str(ev, "type") != "MODIFIED" {
		t.Errorf("after compact: %v", ev)
	}
	// History size bound.
	e2 := newEnv(t, func(o *options) { o.historySize = 3 })
	for i := 0; i < 6; i++ {
		e2.do("POST", leasesPath, lease(fmt.Sprintf("h%d", i), "a", 10))
	}
	ws = e2.watch(e2.h2, leasesPath+"?watch=1&resourceVersion=2")
	if ev := ws.next(2 * time.Second); str(ev, "type") != "ERROR" {
		t.Errorf("history bound: %v", ev)
	}
}

func TestListTooLargeResourceVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("waits 3 s")
	}
	e := newEnv(t)
	r := e.do("GET", leasesPath+"?resourceVersion=999", nil)
	wantStatus(t, "too large", r, 504, "Timeout", "Too large resource version: 999, current: 4", "")
}

func TestWatchDelayFault(t *testing.T) {
	e := newEnv(t, func(o *options) { o.bookmarkInterval = 300 * time.Millisecond })
	r := e.do("POST", leasesPath, lease("wd", "a", 10))
	rv := str(r.body, "metadata", "resourceVersion")
	e.ctlPost("/faults/watch-delay?ms=500")
	ws := e.watch(e.h2, leasesPath+"?watch=1&allowWatchBookmarks=true&resourceVersion="+rv)
	watchStart := time.Now()
	// A watch started during the delay: its initial events are delayed too.
	wl := e.watch(e.h1, leasesPath+"?watch=1")

	t0 := time.Now()
	r = e.req(e.h2, "PATCH", leasesPath+"/wd", e.token, "application/merge-patch+json", `{"spec":{"holderIdentity":"b"}}`)
	mustCode(t, "update", r, 200)
	rvB := str(r.body, "metadata", "resourceVersion")
	g := e.do("GET", leasesPath+"/wd", nil)
	if str(g.body, "spec", "holderIdentity") != "b" || time.Since(t0) > 300*time.Millisecond {
		t.Fatalf("GET during the watch delay: %v after %v", str(g.body, "spec", "holderIdentity"), time.Since(t0))
	}
	r = e.req(e.h2, "PATCH", leasesPath+"/wd", e.token, "application/merge-patch+json", `{"spec":{"holderIdentity":"c"}}`)
	rvC := str(r.body, "metadata", "resourceVersion")

	ev := ws.next(3 * time.Second)
	if d := time.Since(t0); str(ev, "type") != "MODIFIED" || str(ev, "object", "metadata", "resourceVersion") != rvB || d < 500*time.Millisecond {
		t.Fatalf("first event %v after %v: want MODIFIED rv %s after >= 500ms", ev, d, rvB)
	}
	if ev := ws.next(time.Second); str(ev, "type") != "MODIFIED" || str(ev, "object", "metadata", "resourceVersion") != rvC {
		t.Fatalf("second event, in order: %v", ev)
	}
	// The first bookmark was made ~300 ms after the watch started: it comes 500 ms later.
	ev = ws.next(2 * time.Second)
	if d := time.Since(watchStart); str(ev, "type") != "BOOKMARK" || d < 800*time.Millisecond {
		t.Fatalf("bookmark %v after %v: want >= 800ms", ev, d)
	}
	if ev := wl.next(3 * time.Second); str(ev, "type") != "ADDED" || time.Since(watchStart) < 500*time.Millisecond {
		t.Fatalf("initial event of a watch started during the delay: %v after %v", ev, time.Since(watchStart))
	}

	// Clearing the delay (reset, or ms=0) releases what is held at once, in order.
	for _, clear := range []string{"/faults/reset", "/faults/watch-delay?ms=0"} {
		e.ctlPost("/faults/watch-delay?ms=5000")
		var want []string
		for _, h := range []string{"d", "e"} {
			r = e.req(e.h2, "PATCH", leasesPath+"/wd", e.token, "application/merge-patch+json", `{"spec":{"holderIdentity":"`+h+`"}}`)
			want = append(want, str(r.body, "metadata", "resourceVersion"))
		}
		if ev := ws.next(300 * time.Millisecond); ev != nil && str(ev, "type") != "BOOKMARK" {
			t.Fatalf("%s: event before the delay was cleared: %v", clear, ev)
		}
		t1 := time.Now()
		e.ctlPost(clear)
		var got []string
		for len(got) < 2 {
			ev := ws.next(time.Second)
			if ev == nil {
				t.Fatalf("%s: held events not released: got %v", clear, got)
			}
			if str(ev, "type") == "MODIFIED" {
				got = append(got, str(ev, "object", "metadata", "resourceVersion"))
			}
		}
		if strings.Join(got, " ") != strings.Join(want, " ") || time.Since(t1) > 500*time.Millisecond {
			t.Fatalf("%s: got %v want %v after %v", clear, got, want, time.Since(t1))
		}
	}
	res, err := http.Post(e.ctl.URL+"/faults/watch-delay?ms=-1", "", nil)
	if err != nil || res.StatusCode != 400 {
		t.Fatalf("bad ms: %v %v", res, err)
	}
	res.Body.Close()
}

// GET /stats counts open watches by resource and, apart, by namespace and
// cluster-wide (all namespaces, or a cluster-scoped resource).
func TestStatsCountWatchesByNamespace(t *testing.T) {
	e := newEnv(t)
	stats := func() string {
		m := e.stats()
		return fmt.Sprintf("%v %s %s %s", m["watches"], str(m, "watchesByResource"), str(m, "watchesByNamespace"), str(m, "watchesClusterWide"))
	}
	if got, want := stats(), "0 {} {} {}"; got != want {
		t.Errorf("no watch: %s, want %s", got, want)
	}
	e.watch(e.h2, leasesPath+"?watch=1")
	e.watch(e.h1, leasesPath+"?watch=1&labelSelector=a%3Db")
	e.watch(e.h2, "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases?watch=1")
	all := e.watch(e.h2, "/apis/coordination.k8s.io/v1/leases?watch=1")
	e.watch(e.h2, "/api/v1/namespaces?watch=1")
	e.watch(e.h2, "/api/v1/namespaces/default/configmaps?watch=1")
	want := `6 {"configmaps":1,"leases.coordination.k8s.io":4,"namespaces":1} ` +
		`{"configmaps":{"default":1},"leases.coordination.k8s.io":{"default":2,"kube-system":1}} ` +
		`{"leases.coordination.k8s.io":1,"namespaces":1}`
	if got := stats(); got != want {
		t.Errorf("six watches:\n got %s\nwant %s", got, want)
	}
	all.res.Body.Close()
	want = `5 {"configmaps":1,"leases.coordination.k8s.io":3,"namespaces":1} ` +
		`{"configmaps":{"default":1},"leases.coordination.k8s.io":{"default":2,"kube-system":1}} {"namespaces":1}`
	deadline := time.Now().Add(5 * time.Second)
	for stats() != want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := stats(); got != want {
		t.Errorf("after closing the all-namespaces watch:\n got %s\nwant %s", got, want)
	}
}
