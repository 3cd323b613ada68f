package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// faultRule fails the next count matching API requests.
type faultRule struct {
	count      int
	code       int
	retryAfter int
	path       string
	verb       string
}

// faults are the injected failures of the API port.
type faults struct {
	mu          sync.Mutex
	cond        *sync.Cond
	latency     time.Duration
	rules       []*faultRule
	pausedUntil time.Time
	paused      bool
	pauseGen    int
	// watchDelayN delays the delivery of every watch event; watchDelayC is
	// closed (and replaced) whenever it changes, to wake waiting watches.
	watchDelayN time.Duration
	watchDelayC chan struct{}
}

// watchDelay returns the watch-delay fault and a channel closed when it changes.
func (f *faults) watchDelay() (time.Duration, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.watchDelayC == nil {
		f.watchDelayC = make(chan struct{})
	}
	return f.watchDelayN, f.watchDelayC
}

func (f *faults) setWatchDelayLocked(d time.Duration) {
	if d == f.watchDelayN {
		return
	}
	f.watchDelayN = d
	if f.watchDelayC != nil {
		close(f.watchDelayC)
		f.watchDelayC = nil
	}
}

// apply delays or fails request R per the faults; true when it answered.
func (f *faults) apply(w http.ResponseWriter, r *http.Request) bool {
	f.mu.Lock()
	for f.paused {
		now := time.Now()
		if !now.Before(f.pausedUntil) {
			f.paused = false
			break
		}
		gen := f.pauseGen
		// Wake when the pause ends, resume is called, or the client goes away.
		t := time.AfterFunc(f.pausedUntil.Sub(now), func() { f.mu.Lock(); f.cond.Broadcast(); f.mu.Unlock() })
		f.cond.Wait()
		t.Stop()
		if gen != f.pauseGen {
			break
		}
		if r.Context().Err() != nil {
			f.mu.Unlock()
			return true
		}
	}
	lat := f.latency
	var hit *faultRule
	for i, fr := range f.rules {
		if fr.path != "" && !strings.HasPrefix(r.URL.Path, fr.path) {
			continue
		}
		if fr.verb != "" && !strings.EqualFold(fr.verb, r.Method) {
			continue
		}
		hit = fr
		fr.count--
		if fr.count <= 0 {
			f.rules = append(f.rules[:i], f.rules[i+1:]...)
		}
		break
	}
	f.mu.Unlock()
	if lat > 0 {
		select {
		case <-time.After(lat):
		case <-r.Context().Done():
			return true
		}
	}
	if hit != nil {
		writeStatus(w, statusForCode(hit.code, hit.retryAfter))
		return true
	}
	return false
}

func (f *faults) reset() {
	f.mu.Lock()
	f.latency = 0
	f.rules = nil
	f.paused = false
	f.pauseGen++
	f.setWatchDelayLocked(0)
	f.cond.Broadcast()
	f.mu.Unlock()
}

// logEntry is one line of GET /log.
type logEntry struct {
	Seq                int64       `json:"seq"`
	Time               string      `json:"time"`
	MonoNs             int64       `json:"mono_ns"`
	ClockMonotonicNs   int64       `json:"clock_monotonic_ns"`
	SentMonoNs         int64       `json:"sent_mono_ns,omitempty"` // admission: when the call was sent
	Type               string      `json:"type"`
	Verb               string      `json:"verb"`
	Group              string      `json:"group"`
	Resource           string      `json:"resource"`
	Subresource        string      `json:"subresource,omitempty"`
	Namespace          string      `json:"namespace"`
	Name               string      `json:"name"`
	User               string      `json:"user"`
	PodName            string      `json:"podName"`
	ResourceVersion    string      `json:"resourceVersion"`
	OldResourceVersion string      `json:"oldResourceVersion,omitempty"`
	Allowed            *bool       `json:"allowed,omitempty"`
	Webhook            string      `json:"webhook,omitempty"`
	Reason             string      `json:"reason,omitempty"`
	Message            string      `json:"message,omitempty"`
	DryRun             bool        `json:"dryRun,omitempty"`
	Object             interface{} `json:"object,omitempty"`
}

// eventLog is the ordered log of commits and admission outcomes.
type eventLog struct {
	mu      sync.Mutex
	seq     int64
	entries []*logEntry
	start   time.Time
	// CLOCK_MONOTONIC at start, to compare with other processes' clocks.
	monoBase int64
}

const maxLogEntries = 200000

func (l *eventLog) add(e *logEntry) {
	now := time.Now()
	l.mu.Lock()
	l.seq++
	e.Seq = l.seq
	e.Time = now.UTC().Format(time.RFC3339Nano)
	e.MonoNs = int64(now.Sub(l.start))
	e.ClockMonotonicNs = l.monoBase + e.MonoNs
	l.entries = append(l.entries, e)
	if len(l.entries) > maxLogEntries {
		l.entries = l.entries[len(l.entries)-maxLogEntries:]
	}
	l.mu.Unlock()
}

func (l *eventLog) since(seq int64) []*logEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	// Entries hold consecutive seqs: index arithmetic instead of a scan.
	if len(l.entries) == 0 {
		return nil
	}
	i := seq - l.entries[0].Seq + 1
	if i < 0 {
		i = 0
	}
	if i >= int64(len(l.entries)) {
		return nil
	}
	return append([]*logEntry(nil), l.entries[i:]...)
}

// committed is called by the store, with its lock held, for every commit in
// order: the log, then what follows a CRD's change (its controllers, serving).
func (s *sim) committed(e *event) {
	s.logCommit(e)
	if e.res == resCRDs {
		s.crdCommitted(e)
	}
}

// logCommit records a committed change; called by the store with its lock held.
func (s *sim) logCommit(e *event) {
	verb := map[string]string{"ADDED": "create", "MODIFIED": "update", "DELETED": "delete"}[e.typ]
	if s.curVerb != "" && e.typ == "MODIFIED" {
		verb = s.curVerb
	}
	le := &logEntry{Type: "commit", Verb: verb, Group: e.res.group, Resource: e.res.resource, Subresource: s.curSub, Namespace: e.ns, Name: e.name,
		User: s.curUser.Username, PodName: podName(s.curUser), ResourceVersion: strconv.FormatInt(e.rv, 10), Object: e.obj}
	if e.old != nil {
		le.OldResourceVersion = metaString(e.old, "resourceVersion")
	}
	s.events.add(le)
}

func ctlReply(w http.ResponseWriter, code int, v interface{}) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func intParam(r *http.Request, k string, def int) (int, error) {
	v := r.URL.Query().Get(k)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("bad %s: %q", k, v)
	}
	return n, nil
}

func (s *sim) controlHandler() http.Handler {
	mux := http.NewServeMux()
	post := func(path string, h func(w http.ResponseWriter, r *http.Request) error) {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodPost {
				ctlReply(w, 405, map[string]string{"error": "use POST"})
				return
			}
			if err := h(w, r); err != nil {
				ctlReply(w, 400, map[string]string{"error": err.Error()})
			}
		})
	}
	ok := func(w http.ResponseWriter, extra map[string]interface{}) error {
		m := map[string]interface{}{"ok": true}
		for k, v := range extra {
			m[k] = v
		}
		ctlReply(w, 200, m)
		return nil
	}
	post("/faults/latency", func(w http.ResponseWriter, r *http.Request) error {
		ms, err := intParam(r, "ms", -1)
		if err != nil || ms < 0 {
			return fmt.Errorf("want ms=N")
		}
		s.faults.mu.Lock()
		s.faults.latency = time.Duration(ms) * time.Millisecond
		s.faults.mu.Unlock()
		return ok(w, nil)
	})
	post("/faults/watch-delay", func(w http.ResponseWriter, r *http.Request) error {
		ms, err := intParam(r, "ms", -1)
		if err != nil || ms < 0 {
			return fmt.Errorf("want ms=N")
		}
		s.faults.mu.Lock()
		s.faults.setWatchDelayLocked(time.Duration(ms) * time.Millisecond)
		s.faults.mu.Unlock()
		return ok(w, nil)
	})
	post("/faults/fail", func(w http.ResponseWriter, r *http.Request) error {
		count, err := intParam(r, "count", 1)
		if err != nil {
			return err
		}
		code, err := intParam(r, "code", 500)
		if err != nil || code < 400 || code > 599 {
			return fmt.Errorf("want code=400..599")
		}
		ra, err := intParam(r, "retryAfter", 0)
		if err != nil {
			return err
		}
		if code == 429 && ra == 0 {
			ra = 1
		}
		q := r.URL.Query()
		if count > 0 {
			s.faults.mu.Lock()
			s.faults.rules = append(s.faults.rules, &faultRule{count: count, code: code, retryAfter: ra, path: q.Get("path"), verb: strings.ToUpper(q.Get("verb"))})
			s.faults.mu.Unlock()
		}
		return ok(w, nil)
	})
	post("/faults/close-watches", func(w http.ResponseWriter, r *http.Request) error {
		n := s.st.stopWatches()
		return ok(w, map[string]interface{}{"closed": n})
	})
	post("/faults/compact", func(w http.ResponseWriter, r *http.Request) error {
		s.st.compact()
		return ok(w, map[string]interface{}{"resourceVersion": strconv.FormatInt(s.st.currentRV(), 10)})
	})
	post("/faults/pause", func(w http.ResponseWriter, r *http.Request) error {
		ms, err := intParam(r, "ms", -1)
		if err != nil || ms < 0 {
			return fmt.Errorf("want ms=N")
		}
		s.faults.mu.Lock()
		s.faults.paused = true
		s.faults.pauseGen++
		s.faults.pausedUntil = time.Now().Add(time.Duration(ms) * time.Millisecond)
		s.faults.cond.Broadcast()
		s.faults.mu.Unlock()
		return ok(w, nil)
	})
	post("/faults/resume", func(w http.ResponseWriter, r *http.Request) error {
		s.faults.mu.Lock()
		s.faults.paused = false
		s.faults.pauseGen++
		s.faults.cond.Broadcast()
		s.faults.mu.Unlock()
		return ok(w, nil)
	})
	post("/faults/reset", func(w http.ResponseWriter, r *http.Request) error {
		s.faults.reset()
		return ok(w, nil)
	})
	post("/services", func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		if q.Get("ns") == "" || q.Get("name") == "" || q.Get("addr") == "" {
			return fmt.Errorf("want ns=NS&name=NAME&addr=HOST:PORT")
		}
		if err := s.addService(q.Get("ns") + "/" + q.Get("name") + "=" + q.Get("addr")); err != nil {
			return err
		}
		return ok(w, nil)
	})
	mux.HandleFunc("/log", func(w http.ResponseWriter, r *http.Request) {
		since, _ := strconv.ParseInt(r.URL.Query().Get("since"), 10, 64)
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		for _, e := range s.events.since(since) {
			_ = enc.Encode(e)
		}
	})
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		s.st.mu.Lock()
		st := s.st.watchStatsLocked()
		objects := 0
		for _, m := range s.st.objs {
			objects += len(m)
		}
		st["objects"] = objects
		st["resourceVersion"] = strconv.FormatInt(s.st.rv, 10)
		s.st.mu.Unlock()
		ctlReply(w, 200, st)
	})
	mux.HandleFunc("/state", func(w http.ResponseWriter, r *http.Request) {
		s.st.mu.Lock()
		st := map[string]interface{}{"resourceVersion": strconv.FormatInt(s.st.rv, 10),
			"historyStart": strconv.FormatInt(s.st.histStart, 10), "watches": len(s.st.watchers)}
		s.st.mu.Unlock()
		ctlReply(w, 200, st)
	})
	return mux
}
