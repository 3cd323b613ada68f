package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

func bookmarkObject(res *resDef, rv int64) obj {
	o := obj{"kind": res.kind, "apiVersion": res.groupVersion(),
		"metadata": obj{"resourceVersion": strconv.FormatInt(rv, 10), "creationTimestamp": nil}}
	if res.storage != nil {
		// An unstructured object has only what was set.
		delete(meta(o), "creationTimestamp")
	}
	switch res {
	case resLeases, resNamespaces, resTokenReviews:
		o["spec"] = obj{}
	}
	if res == resNamespaces {
		o["status"] = obj{}
	}
	return o
}

// handleWatch serves ?watch=1.  Every event (the initial ADDED events, the
// replayed history, live changes, bookmarks, a 410 ERROR) goes through one
// queue and leaves it in order, each when its time has come: at once, or
// with the watch-delay fault, that long after it became deliverable.
func (s *sim) handleWatch(rc *reqCtx, res *resDef, ns string) {
	q := rc.r.URL.Query()
	filter, st := selectorFilter(q)
	if st != nil {
		rc.fail(st)
		return
	}
	bookmarks := q.Get("allowWatchBookmarks") == "true" || q.Get("allowWatchBookmarks") == "1"
	timeout := time.Duration(1800+time.Now().UnixNano()%1800) * time.Second
	if ts := q.Get("timeoutSeconds"); ts != "" {
		n, err := strconv.ParseInt(ts, 10, 64)
		if err != nil || n < 0 {
			rc.fail(errBadRequest(fmt.Sprintf("invalid timeoutSeconds: %q", ts)))
			return
		}
		if n > 0 {
			timeout = time.Duration(n) * time.Second
		}
	}
	rvs := q.Get("resourceVersion")
	var fromRV int64
	if rvs != "" && rvs != "0" {
		n, err := strconv.ParseInt(rvs, 10, 64)
		if err != nil {
			rc.fail(errBadRequest(fmt.Sprintf("invalid resource version: %s", rvs)))
			return
		}
		fromRV = n
	}
	w := &watcher{res: res, ns: ns, filter: filter, ch: make(chan watchEvent, 1000), done: make(chan struct{})}
	var pending []watchEvent
	gone := false
	s.st.mu.Lock()
	start := time.Now()
	if rvs == "" || rvs == "0" {
		for _, o := range s.st.listLocked(res, ns, filter) {
			pending = append(pending, watchEvent{Type: "ADDED", Object: o, at: start})
		}
	} else if fromRV < s.st.histStart {
		gone = true
		pending = append(pending, watchEvent{Type: "ERROR", at: start,
			Object: errGone(fmt.Sprintf("too old resource version: %d (%d)", fromRV, s.st.histStart))})
	} else {
		for i := range s.st.history {
			e := &s.st.history[i]
			if e.rv <= fromRV {
				continue
			}
			if we, ok := w.translate(e); ok {
				we.at = start
				pending = append(pending, we)
			}
		}
	}
	if !gone {
		s.st.watchers[w] = struct{}{}
	}
	s.st.mu.Unlock()
	defer s.st.removeWatcher(w)

	rc.flushWarnings()
	hw := rc.w
	hw.Header().Set("Content-Type", "application/json")
	hw.Header().Set("Cache-Control", "no-cache, private")
	hw.WriteHeader(200)
	flusher, _ := hw.(http.Flusher)
	enc := json.NewEncoder(hw)
	asTable := wantsTable(rc.r)
	headers := true
	send := func(we watchEvent) bool {
		if o, ok := we.Object.(obj); ok && res.storage != nil && we.Type != "BOOKMARK" {
			we.Object = presentCR(res, copyObj(o))
		}
		if asTable && (we.Type == "ADDED" || we.Type == "MODIFIED" || we.Type == "DELETED") {
			if o, ok := we.Object.(obj); ok {
				we.Object = makeTable(rc.r, res, []obj{o}, "", headers)
				headers = false
			}
		}
		return enc.Encode(we) == nil
	}
	// deliver sends the queued events whose time has come; WAIT is how
	// long until the next one is due (-1: nothing queued).
	deliver := func() (ok bool, wait time.Duration) {
		delay, _ := s.faults.watchDelay()
		now := time.Now()
		sent := false
		defer func() {
			if sent && flusher != nil {
				flusher.Flush()
			}
		}()
		for len(pending) > 0 {
			if due := pending[0].at.Add(delay); due.After(now) {
				return true, due.Sub(now)
			}
			if !send(pending[0]) {
				return false, 0
			}
			pending[0] = watchEvent{}
			pending = pending[1:]
			sent = true
		}
		return true, -1
	}
	// take moves what the store queued for this watch into PENDING.
	take := func(n int) {
		for ; n > 0; n-- {
			pending = append(pending, <-w.ch)
		}
	}
	if flusher != nil {
		flusher.Flush()
	}
	deadline := start.Add(timeout)
	endTimer := time.NewTimer(timeout)
	defer endTimer.Stop()
	nextBookmark := func() time.Duration {
		d := s.o.bookmarkInterval
		if untilEnd := time.Until(deadline) - 2*time.Second; untilEnd > 0 && untilEnd < d {
			d = untilEnd
		}
		if d <= 0 {
			d = time.Hour
		}
		return d
	}
	bmTimer := time.NewTimer(nextBookmark())
	defer bmTimer.Stop()
	if !bookmarks {
		bmTimer.Stop()
	}
	ctx := rc.r.Context()
	for {
		ok, wait := deliver()
		if !ok {
			return
		}
		if gone && len(pending) == 0 {
			return // the ERROR event ends the stream
		}
		var dueC <-chan time.Time
		var dueTimer *time.Timer
		if wait >= 0 {
			dueTimer = time.NewTimer(wait)
			dueC = dueTimer.C
		}
		_, delayChanged := s.faults.watchDelay()
		select {
		case we := <-w.ch:
			pending = append(pending, we)
			take(len(w.ch))
		case <-dueC:
		case <-delayChanged:
		case <-bmTimer.C:
			s.st.mu.Lock()
			rv := s.st.rv
			take(len(w.ch))
			s.st.mu.Unlock()
			pending = append(pending, watchEvent{Type: "BOOKMARK", Object: bookmarkObject(res, rv), at: time.Now()})
			bmTimer.Reset(nextBookmark())
		case <-w.done:
			// Closed by a fault or by being too slow: send what is due, then end.
			take(len(w.ch))
			deliver()
			return
		case <-endTimer.C:
			return
		case <-ctx.Done():
			return
		}
		if dueTimer != nil {
			dueTimer.Stop()
		}
	}
}

// watchStatsLocked counts the open watch streams for GET /stats: all of them
// ("watches"), by resource ("watchesByResource", "leases.coordination.k8s.io"),
// and apart, per resource, those of one namespace ("watchesByNamespace":
// resource -> namespace -> N) and the cluster-wide ones ("watchesClusterWide":
// resource -> N), which are the watches over all namespaces of a namespaced
// resource and every watch of a cluster-scoped one.  Called with mu held.
func (s *store) watchStatsLocked() map[string]interface{} {
	byRes := map[string]int{}
	byNs := map[string]map[string]int{}
	cluster := map[string]int{}
	for w := range s.watchers {
		r := qualified(w.res.group, w.res.resource)
		byRes[r]++
		if w.ns == "" {
			cluster[r]++
			continue
		}
		if byNs[r] == nil {
			byNs[r] = map[string]int{}
		}
		byNs[r][w.ns]++
	}
	return map[string]interface{}{"watches": len(s.watchers), "watchesByResource": byRes,
		"watchesByNamespace": byNs, "watchesClusterWide": cluster}
}
