package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"
)

type obj = map[string]interface{}

// event is one committed change, kept in the history for watches.
type event struct {
	typ  string // ADDED, MODIFIED, DELETED
	rv   int64
	res  *resDef
	ns   string
	name string
	obj  obj // the object after the change (DELETED: the last state)
	old  obj // the object before (MODIFIED, DELETED)
	at   time.Time
}

// watchEvent is what a watcher receives: the type as seen through its filter.
type watchEvent struct {
	Type   string      `json:"type"`
	Object interface{} `json:"object"`
	rv     int64
	at     time.Time // when it became deliverable (commit, watch start, bookmark)
}

type watcher struct {
	res    *resDef
	ns     string
	filter func(obj) bool
	ch     chan watchEvent
	done   chan struct{}
	once   sync.Once
}

func (w *watcher) stop() { w.once.Do(func() { close(w.done) }) }

// store holds every object, the global resourceVersion and the event history.
type store struct {
	mu          sync.Mutex
	rv          int64
	objs        map[*resDef]map[string]obj // key: "ns/name" or "name"
	history     []event
	histStart   int64 // a watch from a resourceVersion below this gets 410
	historySize int
	watchers    map[*watcher]struct{}
	cond        *sync.Cond     // broadcast on every commit
	onCommit    func(e *event) // called with mu held, in commit order
}

func newStore(historySize int) *store {
	s := &store{objs: map[*resDef]map[string]obj{}, watchers: map[*watcher]struct{}{}, historySize: historySize}
	s.cond = sync.NewCond(&s.mu)
	return s
}

// lockUnchanged locks the store for a write of the object (RES, NS, NAME)
// that was read as CUR: it returns the stored object, with mu held, if it is
// still at CUR's resourceVersion; otherwise it unlocks and returns nil (it
// changed or went away meanwhile: the caller retries or answers a conflict).
func (s *store) lockUnchanged(res *resDef, ns, name string, cur obj) obj {
	s.mu.Lock()
	now := s.getLocked(res, ns, name)
	if now == nil || metaString(now, "resourceVersion") != metaString(cur, "resourceVersion") {
		s.mu.Unlock()
		return nil
	}
	return now
}

func objKey(ns, name string) string {
	if ns == "" {
		return name
	}
	return ns + "/" + name
}

// deepCopy copies a JSON tree (maps and lists; leaves are immutable).
func deepCopy(v interface{}) interface{} {
	return copyJSON(v, nil)
}

// copyJSON copies the JSON tree V, maps and lists anew, each leaf through
// LEAF (nil: kept as it is).
func copyJSON(v interface{}, leaf func(interface{}) interface{}) interface{} {
	switch t := v.(type) {
	case map[string]interface{}:
		m := make(map[string]interface{}, len(t))
		for k, x := range t {
			m[k] = copyJSON(x, leaf)
		}
		return m
	case []interface{}:
		l := make([]interface{}, len(t))
		for i, x := range t {
			l[i] = copyJSON(x, leaf)
		}
		return l
	}
	if leaf != nil {
		return leaf(v)
	}
	return v
}

// containsValue reports whether list L holds X, comparing printed values as
// strategic merge patch does for primitive lists.
func containsValue(l []interface{}, x interface{}) bool {
	for _, y := range l {
		if fmt.Sprint(x) == fmt.Sprint(y) {
			return true
		}
	}
	return false
}

// appendUnique appends X to L unless L holds it (a set-like list of strings
// or primitives: finalizers, storedVersions, a merged primitive list).
func appendUnique(l []interface{}, x interface{}) []interface{} {
	if containsValue(l, x) {
		return l
	}
	return append(l, x)
}

func copyObj(o obj) obj {
	if o == nil {
		return nil
	}
	return deepCopy(o).(obj)
}

func meta(o obj) obj {
	if o == nil {
		return nil
	}
	m, _ := o["metadata"].(map[string]interface{})
	if m == nil {
		m = obj{}
		o["metadata"] = m
	}
	return m
}

func metaString(o obj, k string) string {
	if o == nil {
		return ""
	}
	m, _ := o["metadata"].(map[string]interface{})
	s, _ := m[k].(string)
	return s
}

func objRV(o obj) int64 {
	n, _ := strconv.ParseInt(metaString(o, "resourceVersion"), 10, 64)
	return n
}

func labelsOf(o obj) map[string]string {
	out := map[string]string{}
	if o == nil {
		return out
	}
	m, _ := o["metadata"].(map[string]interface{})
	l, _ := m["labels"].(map[string]interface{})
	for k, v := range l {
		if s, ok := v.(string); ok {
			out[k] = s
		}
	}
	return out
}

// get returns a copy of the object, or nil.
func (s *store) get(res *resDef, ns, name string) obj {
	s.mu.Lock()
	defer s.mu.Unlock()
	return copyObj(s.objs[res.key()][objKey(ns, name)])
}

func (s *store) getLocked(res *resDef, ns, name string) obj {
	return s.objs[res.key()][objKey(ns, name)]
}

func (s *store) currentRV() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rv
}

// list returns copies of the objects of RES in NS ("" = all) that pass
// FILTER, sorted by namespace and name, with the current resourceVersion.
func (s *store) list(res *resDef, ns string, filter func(obj) bool) ([]obj, int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.listLocked(res, ns, filter), s.rv
}

func (s *store) listLocked(res *resDef, ns string, filter func(obj) bool) []obj {
	var keys []string
	res = res.key()
	for k, o := range s.objs[res] {
		if ns != "" && metaString(o, "namespace") != ns {
			continue
		}
		if filter != nil && !filter(o) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]obj, 0, len(keys))
	for _, k := range keys {
		out = append(out, copyObj(s.objs[res][k]))
	}
	return out
}

// commitLocked stores NEWOBJ (nil: delete) under a new resourceVersion,
// records the event and tells the watchers.  Returns the stored object.
func (s *store) commitLocked(res *resDef, ns, name, typ string, newObj, old obj) obj {
	s.rv++
	rvs := strconv.FormatInt(s.rv, 10)
	rk := res.key()
	if s.objs[rk] == nil {
		s.objs[rk] = map[string]obj{}
	}
	k := objKey(ns, name)
	var evObj obj
	if typ == "DELETED" {
		delete(s.objs[rk], k)
		evObj = copyObj(old)
		// A deleted object is sent with the resourceVersion of the deletion.
		meta(evObj)["resourceVersion"] = rvs
	} else {
		meta(newObj)["resourceVersion"] = rvs
		s.objs[rk][k] = newObj
		evObj = newObj
	}
	e := event{typ: typ, rv: s.rv, res: res, ns: ns, name: name, obj: evObj, old: old, at: time.Now()}
	s.history = append(s.history, e)
	if s.historySize > 0 && len(s.history) > s.historySize {
		drop := len(s.history) - s.historySize
		s.histStart = s.history[drop-1].rv
		s.history = append([]event(nil), s.history[drop:]...)
	}
	for w := range s.watchers {
		if we, ok := w.translate(&e); ok {
			select {
			case w.ch <- we:
			default:
				// Too slow a reader: the real watch cache ends the watch too.
				w.stop()
				delete(s.watchers, w)
			}
		}
	}
	if s.onCommit != nil {
		s.onCommit(&e)
	}
	s.cond.Broadcast()
	return copyObj(evObj)
}

// translate maps a stored event to what watcher W sees through its filters.
func (w *watcher) translate(e *event) (watchEvent, bool) {
	if e.res.key() != w.res.key() || (w.ns != "" && e.ns != w.ns) {
		return watchEvent{}, false
	}
	oldM := e.old != nil && (w.filter == nil || w.filter(e.old))
	newM := e.typ != "DELETED" && (w.filter == nil || w.filter(e.obj))
	typ := ""
	switch e.typ {
	case "ADDED":
		if newM {
			typ = "ADDED"
		}
	case "MODIFIED":
		switch {
		case oldM && newM:
			typ = "MODIFIED"
		case newM:
			typ = "ADDED"
		case oldM:
			typ = "DELETED"
		}
	case "DELETED":
		if oldM {
			typ = "DELETED"
		}
	}
	if typ == "" {
		return watchEvent{}, false
	}
	return watchEvent{Type: typ, Object: e.obj, rv: e.rv, at: e.at}, true
}

// compact drops the kept history: every resourceVersion before now gets 410.
func (s *store) compact() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.history = nil
	s.histStart = s.rv
}

// stopWatches ends every open watch.
func (s *store) stopWatches() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := len(s.watchers)
	for w := range s.watchers {
		w.stop()
		delete(s.watchers, w)
	}
	return n
}

func (s *store) removeWatcher(w *watcher) {
	s.mu.Lock()
	delete(s.watchers, w)
	s.mu.Unlock()
	w.stop()
}

// jsonNumber makes an int into the json.Number objects hold.
func jsonNumber(n int64) json.Number { return json.Number(strconv.FormatInt(n, 10)) }
