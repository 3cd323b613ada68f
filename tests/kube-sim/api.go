package main

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// sim is the whole simulated API server.
type sim struct {
	o        options
	st       *store
	users    *userDB
	certs    certs
	start    time.Time
	faults   faults
	events   eventLog
	svcMu    sync.Mutex
	services map[string]string // "ns/name" -> host:port
	hookMu   sync.Mutex
	hookTr   map[string]*http.Transport
	crs      customResources
	// Who and how the commit under way was made (set with st.mu held).
	curUser userInfo
	curVerb string
	curSub  string
}

func newSim(o options) (*sim, error) {
	s := &sim{o: o, st: newStore(o.historySize), start: time.Now(), services: map[string]string{}, hookTr: map[string]*http.Transport{}}
	s.users = &userDB{admin: userInfo{Token: randHex(24), Username: "kube-admin", Groups: []string{"system:masters", "system:authenticated"}}}
	if o.dir != "" {
		s.users.path = filepath.Join(o.dir, "users.json")
		ca, caKey, caPEM, err := loadOrMakeCA(o.dir)
		if err != nil {
			return nil, fmt.Errorf("cannot make the CA in '%s': %v", o.dir, err)
		}
		cert, _, _, err := issueCert(ca, caKey, "kube-sim", []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
			[]net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")})
		if err != nil {
			return nil, err
		}
		s.certs = certs{caPEM: caPEM, serving: cert}
	}
	for _, sv := range o.services {
		if err := s.addService(sv); err != nil {
			return nil, err
		}
	}
	s.events.start = s.start
	s.events.monoBase = clockMonotonic() - int64(time.Since(s.start))
	s.st.onCommit = s.committed
	s.faults.cond = sync.NewCond(&s.faults.mu)
	// The namespaces a fresh cluster has.
	for _, ns := range []string{"default", "kube-system", "kube-public", "kube-node-lease"} {
		s.st.mu.Lock()
		o := obj{"apiVersion": "v1", "kind": "Namespace", "metadata": obj{"name": ns}}
		s.fillCreateMeta(resNamespaces, o)
		prepareNamespace(o, nil)
		s.st.commitLocked(resNamespaces, "", ns, "ADDED", o, nil)
		s.st.mu.Unlock()
	}
	return s, nil
}

func (s *sim) addService(spec string) error {
	k, addr, ok := strings.Cut(spec, "=")
	if !ok || !strings.Contains(k, "/") || addr == "" {
		return fmt.Errorf("bad service '%s': want NS/NAME=HOST:PORT", spec)
	}
	s.svcMu.Lock()
	s.services[k] = addr
	s.svcMu.Unlock()
	return nil
}

func (s *sim) writeFiles(addr string) error {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	server := "https://" + net.JoinHostPort(host, port)
	if err := writeFileAtomic(filepath.Join(s.o.dir, "kubeconfig"), []byte(kubeconfigText(server, s.certs.caPEM, s.users.admin.Token)), 0600); err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(s.o.dir, "token"), []byte(s.users.admin.Token+"\n"), 0600)
}

func (s *sim) apiServer() *http.Server {
	return &http.Server{
		Handler: s,
		TLSConfig: &tls.Config{
			Certificates: []tls.Certificate{s.certs.serving},
			NextProtos:   []string{"h2", "http/1.1"},
			MinVersion:   tls.VersionTLS12,
		},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          log.New(os.Stderr, "kube-sim: http: ", 0),
	}
}

// recorder captures the status code for the request log.
type recorder struct {
	http.ResponseWriter
	code int
}

func (r *recorder) WriteHeader(c int) {
	if r.code == 0 {
		r.code = c
	}
	r.ResponseWriter.WriteHeader(c)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = 200
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// reqCtx is one API request.
type reqCtx struct {
	w        http.ResponseWriter
	r        *http.Request
	user     userInfo
	warnings []string
	dryRun   bool
	sub      string // the subresource ("status") or ""
}

func (rc *reqCtx) warn(msg string) { rc.warnings = append(rc.warnings, msg) }

func (rc *reqCtx) flushWarnings() {
	for _, w := range rc.warnings {
		rc.w.Header().Add("Warning", fmt.Sprintf("299 - %s", strconv.Quote(w)))
	}
	rc.warnings = nil
}

func (rc *reqCtx) fail(st *apiStatus) {
	rc.flushWarnings()
	writeStatus(rc.w, st)
}

func (rc *reqCtx) reply(code int, v interface{}) {
	rc.flushWarnings()
	writeJSON(rc.w, code, v)
}

// unknownFields applies the request's fieldValidation to the UNKNOWN field
// paths decoding found: Strict returns the strict decoding error (the caller
// makes it a decode error), Warn (the default) adds a Warning each, Ignore
// does nothing.  The caller drops the fields.
func (rc *reqCtx) unknownFields(unknown []string) error {
	if len(unknown) == 0 {
		return nil
	}
	switch rc.r.URL.Query().Get("fieldValidation") {
	case "Strict":
		parts := make([]string, len(unknown))
		for i, u := range unknown {
			parts[i] = fmt.Sprintf("unknown field %q", u)
		}
		return fmt.Errorf("strict decoding error: %s", strings.Join(parts, ", "))
	case "Ignore":
	default:
		for _, u := range unknown {
			rc.warn(fmt.Sprintf("unknown field %q", u))
		}
	}
	return nil
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	return ""
}

func (s *sim) ServeHTTP(w0 http.ResponseWriter, r *http.Request) {
	t0 := time.Now()
	w := &recorder{ResponseWriter: w0}
	user := "-"
	defer func() {
		if !s.o.quiet {
			log.Printf("kube-sim: %s %s user=%s code=%d dur=%s proto=%s", r.Method, r.URL.RequestURI(), user, w.code,
				time.Since(t0).Round(time.Microsecond), r.Proto)
		}
	}()
	switch r.URL.Path {
	case "/healthz", "/readyz", "/livez":
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(200)
		_, _ = w.Write([]byte("ok"))
		return
	}
	if s.faults.apply(w, r) {
		return
	}
	if r.URL.Path == "/version" || r.URL.Path == "/version/" {
		writeJSON(w, 200, versionInfo())
		return
	}
	u, ok := s.users.lookup(bearer(r))
	if !ok {
		writeStatus(w, errUnauthorized())
		return
	}
	user = u.Username
	rc := &reqCtx{w: w, r: r, user: u}
	s.route(rc)
}

func (s *sim) route(rc *reqCtx) {
	p := strings.TrimSuffix(rc.r.URL.Path, "/")
	if handled := s.serveDiscovery(rc, p); handled {
		return
	}
	var group, version string
	var rest []string
	segs := strings.Split(strings.TrimPrefix(p, "/"), "/")
	switch {
	case len(segs) >= 3 && segs[0] == "api" && segs[1] == "v1":
		version, rest = "v1", segs[2:]
	case len(segs) >= 4 && segs[0] == "apis":
		group, version, rest = segs[1], segs[2], segs[3:]
	default:
		rc.fail(errNotFoundPath())
		return
	}
	var res *resDef
	var ns, name, sub string
	if len(rest) >= 3 && rest[0] == "namespaces" {
		if r := s.findResource(group, version, rest[2]); r != nil && r.namespaced {
			res, ns = r, rest[1]
			rest = rest[3:]
		}
	}
	if res == nil {
		res = s.findResource(group, version, rest[0])
		rest = rest[1:]
		if res == nil {
			rc.fail(errNotFoundPath())
			return
		}
	}
	if len(rest) > 0 {
		name = rest[0]
	}
	if len(rest) > 1 {
		sub = strings.Join(rest[1:], "/")
	}
	if res.namespaced && ns == "" && name != "" {
		rc.fail(errNotFoundPath())
		return
	}
	if sub != "" && !(sub == "status" && name != "" && res.hasStatus()) {
		if res.storage != nil && name != "" {
			// apiextensions-apiserver: an unknown subresource is a NotFound of the object.
			rc.fail(errNotFound(res.group, res.resource, name))
		} else {
			rc.fail(errNotFoundPath())
		}
		return
	}
	rc.sub = sub
	q := rc.r.URL.Query()
	if dr := q["dryRun"]; len(dr) > 0 {
		for _, d := range dr {
			if d != "All" {
				rc.fail(newStatus(400, "BadRequest", fmt.Sprintf("Invalid dry run options: dryRun: Unsupported value: %q: supported values: \"All\"", d), nil))
				return
			}
		}
		rc.dryRun = true
	}
	if res.createOnly && !(rc.r.Method == http.MethodPost && name == "") {
		if name == "" && rc.r.Method == http.MethodGet {
			rc.fail(errMethodNotSupported(res.group, res.resource, "list"))
		} else {
			rc.fail(errNotFoundPath())
		}
		return
	}
	switch rc.r.Method {
	case http.MethodGet:
		switch {
		case name != "":
			s.handleGet(rc, res, ns, name)
		case q.Get("watch") == "1" || q.Get("watch") == "true":
			s.handleWatch(rc, res, ns)
		default:
			s.handleList(rc, res, ns)
		}
	case http.MethodPost:
		if name != "" || sub != "" {
			rc.fail(errMethodNotSupported(res.group, res.resource, "create"))
			return
		}
		s.handleCreate(rc, res, ns)
	case http.MethodPut:
		if name == "" {
			rc.fail(errMethodNotSupported(res.group, res.resource, "update"))
			return
		}
		s.handleUpdate(rc, res, ns, name)
	case http.MethodPatch:
		if name == "" {
			rc.fail(errMethodNotSupported(res.group, res.resource, "patch"))
			return
		}
		s.handlePatch(rc, res, ns, name)
	case http.MethodDelete:
		if sub != "" {
			rc.fail(errMethodNotSupported(res.group, res.resource, "delete"))
			return
		}
		if name == "" {
			rc.fail(errMethodNotSupported(res.group, res.resource, "deletecollection"))
			return
		}
		s.handleDelete(rc, res, ns, name)
	default:
		rc.fail(newStatus(405, "MethodNotAllowed", "the server does not allow this method on the requested resource", &statusDetails{}))
	}
}

func (s *sim) handleGet(rc *reqCtx, res *resDef, ns, name string) {
	o := s.st.get(res, ns, name)
	if o == nil {
		rc.fail(errNotFound(res.group, res.resource, name))
		return
	}
	presentCR(res, o)
	if wantsTable(rc.r) {
		rc.reply(200, makeTable(rc.r, res, []obj{o}, metaString(o, "resourceVersion"), true))
		return
	}
	rc.reply(200, o)
}

// decodeBody reads the request body as a JSON object for RES, as the real
// typed decoder would accept it.
func (s *sim) decodeBody(rc *reqCtx, res *resDef) (obj, *apiStatus) {
	body, err := io.ReadAll(io.LimitReader(rc.r.Body, 3*1024*1024+1))
	if err != nil {
		return nil, errBadRequest(err.Error())
	}
	if len(body) > 3*1024*1024 {
		return nil, newStatus(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728", nil)
	}
	ct := rc.r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/vnd.kubernetes.protobuf") && (res == resConfigMaps || res == resNamespaces || res == resLeases) {
		o, err := decodeProtobuf(res, body)
		if err != nil {
			return nil, errBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", res.kind, res.version, res.kind, err))
		}
		return s.checkObject(rc, res, o)
	}
	if ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "*/*") {
		if res.storage != nil {
			return nil, newStatus(415, "UnsupportedMediaType", "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml", nil)
		}
		return nil, newStatus(415, "UnsupportedMediaType", fmt.Sprintf("the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"), nil)
	}
	o, st := s.decodeObject(rc, res, body)
	return o, st
}

func parseJSON(body []byte) (interface{}, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v interface{}
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("invalid character after top-level value")
	}
	return v, nil
}

func (s *sim) decodeObject(rc *reqCtx, res *resDef, body []byte) (obj, *apiStatus) {
	v, err := parseJSON(body)
	if err != nil {
		return nil, errBadRequest(fmt.Sprintf("couldn't get version/kind; json parse error: %v", err))
	}
	o, ok := v.(map[string]interface{})
	if !ok {
		return nil, errBadRequest(fmt.Sprintf("couldn't get version/kind; json parse error: json: cannot unmarshal %s into Go value of type struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }", jsonTypeName(v)))
	}
	return s.checkObject(rc, res, o)
}

// checkObject applies the typed-decoding rules: kind, field types, unknown fields.
func (s *sim) checkObject(rc *reqCtx, res *resDef, o obj) (obj, *apiStatus) {
	if res.storage != nil {
		return s.decodeCR(rc, res, o)
	}
	av, _ := o["apiVersion"].(string)
	kind, _ := o["kind"].(string)
	if av != "" && av != res.groupVersion() {
		return nil, errBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", av, res.groupVersion()))
	}
	if kind != "" && kind != res.kind {
		return nil, errBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: no kind %q is registered for version %q in scheme \"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30\"",
			kind, res.version, res.kind, kind, res.groupVersion()))
	}
	if m, ok := o["metadata"]; ok && m != nil {
		if _, ok := m.(map[string]interface{}); !ok {
			return nil, decodeError(res, kind, av, o, typeError(m, res.kind+".metadata", "v1.ObjectMeta"))
		}
	}
	if err := checkStrings(meta(o), "ObjectMeta.metadata.", "name", "namespace", "generateName", "resourceVersion", "uid"); err != nil {
		return nil, decodeError(res, kind, av, o, err)
	}
	// metav1.Time fields are decoded and re-encoded (UTC, whole seconds).
	m := meta(o)
	if err := canonicalTimeField(m, "creationTimestamp", false, false, "ObjectMeta.metadata.creationTimestamp"); err != nil {
		return nil, decodeError(res, kind, av, o, err)
	}
	if err := canonicalTimeField(m, "deletionTimestamp", false, true, "ObjectMeta.metadata.deletionTimestamp"); err != nil {
		return nil, decodeError(res, kind, av, o, err)
	}
	if err := checkInt64(m["deletionGracePeriodSeconds"], "ObjectMeta.metadata.deletionGracePeriodSeconds"); err != nil {
		return nil, decodeError(res, kind, av, o, err)
	}
	if v, ok := m["deletionGracePeriodSeconds"]; ok && v == nil {
		delete(m, "deletionGracePeriodSeconds")
	}
	if res.decodeCheck != nil {
		if err := res.decodeCheck(o); err != nil {
			return nil, decodeError(res, kind, av, o, err)
		}
	}
	if unk := res.unknownFields(o); len(unk) > 0 {
		if err := rc.unknownFields(unk); err != nil {
			return nil, decodeError(res, kind, av, o, err)
		}
		removeFields(o, unk)
	}
	o["apiVersion"] = res.groupVersion()
	o["kind"] = res.kind
	return o, nil
}

func (s *sim) fillCreateMeta(res *resDef, o obj) {
	m := meta(o)
	m["uid"] = newUID()
	m["creationTimestamp"] = time.Now().UTC().Format(time.RFC3339)
	delete(m, "resourceVersion")
	delete(m, "selfLink")
	delete(m, "deletionTimestamp")
	delete(m, "deletionGracePeriodSeconds")
	delete(m, "managedFields")
	if res.hasGeneration {
		m["generation"] = json.Number("1")
	} else {
		delete(m, "generation")
	}
	if !res.namespaced {
		delete(m, "namespace")
	}
}

// requestNamespace puts the request's namespace NS into the body O of a
// create or update of a namespaced resource; a body that names another is 400.
func requestNamespace(res *resDef, o obj, ns string) *apiStatus {
	if !res.namespaced {
		return nil
	}
	if bns := metaString(o, "namespace"); bns != "" && bns != ns {
		return errBadRequest("the namespace of the provided object does not match the namespace sent on the request")
	}
	meta(o)["namespace"] = ns
	return nil
}

func (s *sim) namespaceExists(ns string) bool {
	return s.st.get(resNamespaces, "", ns) != nil
}

func (s *sim) handleCreate(rc *reqCtx, res *resDef, ns string) {
	o, st := s.decodeBody(rc, res)
	if st != nil {
		rc.fail(st)
		return
	}
	if st := requestNamespace(res, o, ns); st != nil {
		rc.fail(st)
		return
	}
	m := meta(o)
	if metaString(o, "name") == "" && metaString(o, "generateName") != "" {
		m["name"] = metaString(o, "generateName") + randSuffix(5)
	}
	name := metaString(o, "name")
	if res == resTokenReviews {
		s.handleTokenReview(rc, o)
		return
	}
	if cv := res.cr(); cv != nil && s.o.crdCreateDelay > 0 && time.Since(cv.established) < s.o.crdCreateDelay {
		// apiextensions-apiserver holds creates for 2 s after the CRD became
		// Established (so that every server of an HA cluster serves it).
		time.Sleep(s.o.crdCreateDelay)
	}
	out, st := s.createObject(rc, res, ns, name, o)
	if st != nil {
		rc.fail(st)
		return
	}
	rc.reply(201, out)
}

// createObject is the create pipeline of POST and of create-on-PUT: system
// metadata, the strategy's PrepareForCreate, validation, admission, then
// storage (409 AlreadyExists when the name was taken meanwhile).  It returns
// the object as stored (dryRun: as it would be).
func (s *sim) createObject(rc *reqCtx, res *resDef, ns, name string, o obj) (obj, *apiStatus) {
	if res.namespaced && !s.namespaceExists(ns) {
		return nil, errNotFound("", "namespaces", ns)
	}
	s.fillCreateMeta(res, o)
	if res.prepare != nil {
		res.prepare(o, nil)
	}
	errs := validateMeta(res, o)
	if res.validate != nil {
		errs = append(errs, res.validate(o, nil)...)
	}
	if len(errs) > 0 {
		return nil, errInvalid(res.group, invalidKind(res, o), name, errs)
	}
	if st := s.admit(rc, &admAttrs{op: "CREATE", verb: "create", res: res, ns: ns, name: name, obj: o, options: s.options(rc, "CreateOptions")}); st != nil {
		return nil, st
	}
	if rc.dryRun {
		return o, nil
	}
	s.st.mu.Lock()
	defer s.st.mu.Unlock()
	if s.st.getLocked(res, ns, name) != nil {
		return nil, errAlreadyExists(res.group, res.resource, name)
	}
	if res.namespaced && s.st.getLocked(resNamespaces, "", ns) == nil {
		return nil, errNotFound("", "namespaces", ns)
	}
	s.curUser = rc.user
	return presentCR(res, s.st.commitLocked(res, ns, name, "ADDED", o, nil)), nil
}

// invalidKind is the kind a 422 names: the object's own for custom resources
// (the unstructured typer reports what the body says).
func invalidKind(res *resDef, o obj) string {
	if k, _ := o["kind"].(string); res.storage != nil && k != "" {
		return k
	}
	return res.kind
}

func randSuffix(n int) string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := []byte(randHex(n))
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// options builds the admission options object of the request.
func (s *sim) options(rc *reqCtx, kind string) obj {
	o := obj{"kind": kind, "apiVersion": "meta.k8s.io/v1"}
	q := rc.r.URL.Query()
	if rc.dryRun {
		o["dryRun"] = []interface{}{"All"}
	}
	if fm := q.Get("fieldManager"); fm != "" {
		o["fieldManager"] = fm
	}
	if fv := q.Get("fieldValidation"); fv != "" && kind != "DeleteOptions" {
		o["fieldValidation"] = fv
	}
	return o
}

func (s *sim) handleUpdate(rc *reqCtx, res *resDef, ns, name string) {
	o, st := s.decodeBody(rc, res)
	if st != nil {
		rc.fail(st)
		return
	}
	if bn := metaString(o, "name"); bn != name {
		rc.fail(errBadRequest(fmt.Sprintf("the name of the object (%s) does not match the name on the URL (%s)", bn, name)))
		return
	}
	if st := requestNamespace(res, o, ns); st != nil {
		rc.fail(st)
		return
	}
	s.update(rc, res, ns, name, "update", metaString(o, "resourceVersion"), func(cur obj) (obj, *apiStatus) { return copyObj(o), nil })
}

// update runs the read-modify-write of PUT and PATCH: MUTATE makes the new
// object from the current one; the result is validated, admitted and stored,
// retried when the object changed meanwhile and the client set no
// resourceVersion (CLIENTRV: the one in the PUT body or in the patch).
func (s *sim) update(rc *reqCtx, res *resDef, ns, name, verb, clientRV string, mutate func(cur obj) (obj, *apiStatus)) {
	for attempt := 0; ; attempt++ {
		cur := s.st.get(res, ns, name)
		if cur == nil && !(res.allowCreateOnUpdate && verb == "update") {
			rc.fail(errNotFound(res.group, res.resource, name))
			return
		}
		presentCR(res, cur)
		o, st := mutate(cur)
		if st == nil {
			st = uidPrecondition(res, name, metaString(o, "uid"), cur)
		}
		if st != nil {
			rc.fail(st)
			return
		}
		if cur != nil && res.requireRV && verb == "update" && clientRV == "" {
			// AllowUnconditionalUpdate is false: the resourceVersion is checked
			// before anything else (the value printed is a uint64 0).
			rc.fail(errInvalid(res.group, res.resource, name, []fieldError{{typ: "FieldValueInvalid", field: "metadata.resourceVersion",
				value: rawValue("0x0"), detail: "must be specified for an update"}}))
			return
		}
		if cur == nil {
			// A Lease PUT to a missing name creates it, by POST's pipeline.
			// As kube-apiserver: a resourceVersion in the body is ignored
			// when creating (a uid was checked above: the missing object's is "").
			out, st := s.createObject(rc, res, ns, name, o)
			if st != nil && st.Reason == "AlreadyExists" && attempt < 20 {
				continue // created meanwhile: update it
			}
			if st != nil {
				rc.fail(st)
				return
			}
			rc.reply(201, out)
			return
		}
		m := meta(o)
		if clientRV != "" && clientRV != metaString(cur, "resourceVersion") {
			rc.fail(errConflict(res.group, res.resource, name, optimisticLockMsg))
			return
		}
		cm := meta(cur)
		m["uid"] = cm["uid"]
		m["creationTimestamp"] = cm["creationTimestamp"]
		m["resourceVersion"] = cm["resourceVersion"]
		delete(m, "selfLink")
		delete(m, "managedFields")
		if !res.namespaced {
			delete(m, "namespace")
		}
		status := rc.sub == "status"
		switch {
		case status && res.prepareStatus != nil:
			res.prepareStatus(o, cur)
		case res.prepare != nil:
			res.prepare(o, cur)
		}
		m = meta(o)
		if res.hasGeneration {
			m["generation"] = cm["generation"]
			if !status && res.specChanged != nil && res.specChanged(o, cur) {
				g, _ := strconv.ParseInt(str(cm, "generation"), 10, 64)
				m["generation"] = jsonNumber(g + 1)
			}
		} else {
			delete(m, "generation")
		}
		errs := validateMeta(res, o)
		errs = append(errs, validateMetaUpdate(o, cur)...)
		switch {
		case status && res.validateStatus != nil:
			errs = append(errs, res.validateStatus(o, cur)...)
		case res.validate != nil:
			errs = append(errs, res.validate(o, cur)...)
		}
		if len(errs) > 0 {
			rc.fail(errInvalid(res.group, invalidKind(res, o), name, errs))
			return
		}
		if st := s.admit(rc, &admAttrs{op: "UPDATE", verb: verb, res: res, sub: rc.sub, ns: ns, name: name, obj: o, old: cur, options: s.options(rc, "UpdateOptions")}); st != nil {
			rc.fail(st)
			return
		}
		if rc.dryRun {
			rc.reply(200, o)
			return
		}
		now := s.st.lockUnchanged(res, ns, name, cur)
		if now == nil {
			if clientRV != "" || attempt > 20 {
				rc.fail(errConflict(res.group, res.resource, name, optimisticLockMsg))
				return
			}
			continue
		}
		// An update that changes nothing is not written (no new resourceVersion, no event).
		b1, _ := json.Marshal(o)
		b2, _ := json.Marshal(now)
		if bytes.Equal(b1, b2) {
			s.st.mu.Unlock()
			rc.reply(200, cur)
			return
		}
		s.curUser = rc.user
		s.curVerb, s.curSub = verb, rc.sub
		out := s.st.commitLocked(res, ns, name, "MODIFIED", o, copyObj(now))
		s.curVerb, s.curSub = "", ""
		s.st.mu.Unlock()
		presentCR(res, out)
		rc.reply(200, out)
		return
	}
}

// uidPrecondition is the storage's check of the uid WANT that a write
// carries (an update's body, a delete's preconditions) against the stored
// object CUR (nil when missing: its uid is "").  As etcd3's GuaranteedUpdate,
// it comes before everything else the write checks: the resourceVersion,
// and when creating on update, the namespace and validation.
func uidPrecondition(res *resDef, name, want string, cur obj) *apiStatus {
	if have := metaString(cur, "uid"); want != "" && want != have {
		return errConflict(res.group, res.resource, name, fmt.Sprintf("Precondition failed: UID in precondition: %s, UID in object meta: %s", want, have))
	}
	return nil
}

func (s *sim) handleDelete(rc *reqCtx, res *resDef, ns, name string) {
	body, _ := io.ReadAll(io.LimitReader(rc.r.Body, 1<<20))
	opts := obj{}
	if len(bytes.TrimSpace(body)) > 0 {
		v, err := parseJSON(body)
		m, ok := v.(map[string]interface{})
		if err != nil || !ok {
			rc.fail(errBadRequest(fmt.Sprintf("couldn't get version/kind; json parse error: %v", err)))
			return
		}
		opts = m
	}
	q := rc.r.URL.Query()
	if pp := q.Get("propagationPolicy"); pp != "" {
		opts["propagationPolicy"] = pp
	}
	if gp := q.Get("gracePeriodSeconds"); gp != "" {
		opts["gracePeriodSeconds"] = json.Number(gp)
	}
	opts["kind"] = "DeleteOptions"
	opts["apiVersion"] = "meta.k8s.io/v1"
	if rc.dryRun {
		opts["dryRun"] = []interface{}{"All"}
	}
	for attempt := 0; ; attempt++ {
		cur := s.st.get(res, ns, name)
		if cur == nil {
			rc.fail(errNotFound(res.group, res.resource, name))
			return
		}
		if pre, ok := opts["preconditions"].(map[string]interface{}); ok {
			u, _ := pre["uid"].(string)
			if st := uidPrecondition(res, name, u, cur); st != nil {
				rc.fail(st)
				return
			}
			if v, _ := pre["resourceVersion"].(string); v != "" && v != metaString(cur, "resourceVersion") {
				rc.fail(errConflict(res.group, res.resource, name, fmt.Sprintf("Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in object meta: %s", v, metaString(cur, "resourceVersion"))))
				return
			}
		}
		if st := s.admit(rc, &admAttrs{op: "DELETE", verb: "delete", res: res, ns: ns, name: name, old: cur, options: opts}); st != nil {
			rc.fail(st)
			return
		}
		okStatus := obj{"kind": "Status", "apiVersion": "v1", "metadata": obj{}, "status": "Success",
			"details": statusDetails{Name: name, Group: res.group, Kind: res.resource, UID: metaString(cur, "uid")}}
		if rc.dryRun {
			rc.reply(200, okStatus)
			return
		}
		now := s.st.lockUnchanged(res, ns, name, cur)
		if now == nil {
			if attempt > 20 {
				rc.fail(errConflict(res.group, res.resource, name, optimisticLockMsg))
				return
			}
			continue
		}
		s.curUser = rc.user
		if res == resCRDs {
			out := s.crdDeleteLocked(name, now)
			s.st.mu.Unlock()
			rc.reply(200, out)
			return
		}
		if res == resNamespaces {
			// The namespace controller's work, done at once: delete the contents.
			for _, r := range s.storageKeys() {
				if !r.namespaced {
					continue
				}
				for _, o := range s.st.listLocked(r, name, nil) {
					s.st.commitLocked(r, name, metaString(o, "name"), "DELETED", nil, o)
				}
			}
		}
		s.st.commitLocked(res, ns, name, "DELETED", nil, copyObj(now))
		s.st.mu.Unlock()
		if res == resNamespaces {
			out := copyObj(cur)
			meta(out)["deletionTimestamp"] = time.Now().UTC().Format(time.RFC3339)
			out["status"] = obj{"phase": "Terminating"}
			rc.reply(200, out)
			return
		}
		rc.reply(200, okStatus)
		return
	}
}

func (s *sim) handleList(rc *reqCtx, res *resDef, ns string) {
	q := rc.r.URL.Query()
	filter, st := selectorFilter(q)
	if st != nil {
		rc.fail(st)
		return
	}
	if rvs := q.Get("resourceVersion"); rvs != "" && rvs != "0" {
		rv, err := strconv.ParseInt(rvs, 10, 64)
		if err != nil {
			rc.fail(newStatus(500, "InternalError", fmt.Sprintf("Internal error occurred: invalid resource version: %s", rvs), nil))
			return
		}
		s.st.mu.Lock()
		if q.Get("resourceVersionMatch") == "Exact" && rv < s.st.histStart {
			hs := s.st.histStart
			s.st.mu.Unlock()
			rc.fail(errGone(fmt.Sprintf("too old resource version: %d (%d)", rv, hs)))
			return
		}
		// NotOlderThan: wait up to 3 s for the store to reach RV.
		deadline := time.Now().Add(3 * time.Second)
		for s.st.rv < rv && time.Now().Before(deadline) {
			s.st.mu.Unlock()
			time.Sleep(20 * time.Millisecond)
			s.st.mu.Lock()
		}
		cur := s.st.rv
		s.st.mu.Unlock()
		if cur < rv {
			st := newStatus(504, "Timeout", fmt.Sprintf("Too large resource version: %d, current: %d", rv, cur),
				&statusDetails{Causes: []statusCause{{Reason: "ResourceVersionTooLarge", Message: "Too large resource version"}}, RetryAfterSeconds: 1})
			rc.fail(st)
			return
		}
	}
	items, rv := s.st.list(res, ns, filter)
	for _, it := range items {
		presentCR(res, it)
	}
	if wantsTable(rc.r) {
		rc.reply(200, makeTable(rc.r, res, items, strconv.FormatInt(rv, 10), true))
		return
	}
	list := make([]interface{}, 0, len(items))
	for _, it := range items {
		if res.storage == nil {
			// Typed lists carry no kind/apiVersion in their items; unstructured ones do.
			delete(it, "kind")
			delete(it, "apiVersion")
		}
		list = append(list, it)
	}
	rc.reply(200, obj{"kind": res.listKind(), "apiVersion": res.groupVersion(),
		"metadata": obj{"resourceVersion": strconv.FormatInt(rv, 10)}, "items": list})
}

// selectorFilter parses labelSelector and fieldSelector.
func selectorFilter(q map[string][]string) (func(obj) bool, *apiStatus) {
	var ls labelSelector
	if v := first(q["labelSelector"]); v != "" {
		var err error
		if ls, err = parseLabelSelector(v); err != nil {
			return nil, errBadRequest(fmt.Sprintf("unable to parse requirement: %v", err))
		}
	}
	type fsel struct {
		field, value string
		neg          bool
	}
	var fs []fsel
	if v := first(q["fieldSelector"]); v != "" {
		for _, part := range strings.Split(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			var f fsel
			switch {
			case strings.Contains(part, "!="):
				f.field, f.value, _ = strings.Cut(part, "!=")
				f.neg = true
			case strings.Contains(part, "=="):
				f.field, f.value, _ = strings.Cut(part, "==")
			case strings.Contains(part, "="):
				f.field, f.value, _ = strings.Cut(part, "=")
			default:
				return nil, errBadRequest(fmt.Sprintf("invalid selector: '%s'; can't understand '%s'", v, part))
			}
			if f.field != "metadata.name" && f.field != "metadata.namespace" {
				return nil, errBadRequest(fmt.Sprintf("field label not supported: %s", f.field))
			}
			fs = append(fs, f)
		}
	}
	if ls == nil && fs == nil {
		return nil, nil
	}
	return func(o obj) bool {
		for _, f := range fs {
			v := metaString(o, strings.TrimPrefix(f.field, "metadata."))
			if (v == f.value) == f.neg {
				return false
			}
		}
		return ls.matches(labelsOf(o))
	}, nil
}

func first(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[0]
}

// decodeError is transformDecodeError of kube-apiserver: 400 BadRequest
// naming the kind the body claimed, or a summary of the body when it named none.
func decodeError(res *resDef, kind, apiVersion string, o obj, err error) *apiStatus {
	if kind != "" {
		v := apiVersion
		if i := strings.LastIndexByte(v, '/'); i >= 0 {
			v = v[i+1:]
		}
		return errBadRequest(fmt.Sprintf("%s in version %q cannot be handled as a %s: %v", kind, v, res.kind, err))
	}
	b, _ := json.Marshal(o)
	sum := string(b)
	if len(sum) > 30 {
		sum = sum[:30] + " ..."
	}
	return errBadRequest(fmt.Sprintf("the object provided is unrecognized (must be of type %s): %v (%s)", res.kind, err, sum))
}
