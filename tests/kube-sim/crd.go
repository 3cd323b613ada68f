package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"
)

// CustomResourceDefinitions (apiextensions.k8s.io/v1) and the custom
// resources they define, as kube-apiserver's apiextensions-apiserver serves
// them.  The CRD's lifecycle is done synchronously by kube-sim where the real
// server runs controllers: right after a CRD is stored, the naming
// controller's status update (acceptedNames, NamesAccepted=True, Established
// False/Installing) and the establishing controller's (Established=True) are
// committed as two MODIFIED events, and its resources are served from then on.
// Deleting a CRD marks it (deletionTimestamp, finalizer, Terminating), deletes
// every custom resource of it, then the CRD itself.

const crdFinalizer = "customresourcecleanup.apiextensions.k8s.io"

var resCRDs = &resDef{group: "apiextensions.k8s.io", version: "v1", resource: "customresourcedefinitions",
	kind: "CustomResourceDefinition", singular: "customresourcedefinition", verbs: allVerbs,
	shortNames: []string{"crd", "crds"}, categories: []string{"api-extensions"}, hasGeneration: true, requireRV: true,
	topFields: []string{"spec", "status"}, decodeCheck: checkCRD, prepare: prepareCRD, validate: validateCRD,
	specChanged:   func(o, old obj) bool { return !jsonEqual(o["spec"], old["spec"]) },
	status:        func() bool { return true },
	prepareStatus: func(o, old obj) { o["spec"] = deepCopy(old["spec"]) }}

// crdVersion is what one served version of a CRD needs.
type crdVersion struct {
	crdName string
	schema  *schemaNode // the whole openAPIV3Schema
	status  bool        // the status subresource
	columns []printerColumn
	// established is when Established became True (the 2 s create delay).
	established time.Time
}

func (r *resDef) cr() *crdVersion { return r.crv.Load() }

// crdServing is the registry entry of one established CRD.
type crdServing struct {
	uid      string
	storage  *resDef // the key its objects are stored under
	versions map[string]*resDef
}

// customResources is the registry of served CRDs, by CRD name.
type customResources struct {
	mu    sync.RWMutex
	byCRD map[string]*crdServing
}

func (s *sim) resources() []*resDef {
	out := append([]*resDef{}, builtinResources...)
	s.crs.mu.RLock()
	defer s.crs.mu.RUnlock()
	var names []string
	for n := range s.crs.byCRD {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := s.crs.byCRD[n]
		var vs []string
		for v := range e.versions {
			vs = append(vs, v)
		}
		sortVersions(vs)
		for _, v := range vs {
			out = append(out, e.versions[v])
		}
	}
	return out
}

func (s *sim) findResource(group, version, resource string) *resDef {
	for _, r := range s.resources() {
		if r.group == group && r.version == version && r.resource == resource {
			return r
		}
	}
	return nil
}

// storageKeys are the distinct keys objects are stored under.
func (s *sim) storageKeys() []*resDef {
	seen := map[*resDef]bool{}
	var out []*resDef
	for _, r := range s.resources() {
		if k := r.key(); !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	return out
}

// sortVersions orders Kubernetes versions as discovery does: GA before
// beta before alpha, higher first; other names last, alphabetically.
func sortVersions(vs []string) {
	rank := func(v string) (int, int, int, string) {
		var major, minor int
		var kind string
		if n, _ := fmt.Sscanf(v, "v%d%s", &major, &kind); n >= 1 {
			switch {
			case kind == "":
				return 0, -major, 0, ""
			case strings.HasPrefix(kind, "beta"):
				fmt.Sscanf(kind, "beta%d", &minor)
				return 1, -major, -minor, ""
			case strings.HasPrefix(kind, "alpha"):
				fmt.Sscanf(kind, "alpha%d", &minor)
				return 2, -major, -minor, ""
			}
		}
		return 3, 0, 0, v
	}
	sort.Slice(vs, func(i, j int) bool {
		a1, a2, a3, a4 := rank(vs[i])
		b1, b2, b3, b4 := rank(vs[j])
		if a1 != b1 {
			return a1 < b1
		}
		if a2 != b2 {
			return a2 < b2
		}
		if a3 != b3 {
			return a3 < b3
		}
		return a4 < b4
	})
}

func jsonEqual(a, b interface{}) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// ---- the CustomResourceDefinition type ----

func crdSpec(o obj) map[string]interface{} {
	sp, _ := o["spec"].(map[string]interface{})
	return sp
}

func crdNames(o obj) map[string]interface{} {
	n, _ := crdSpec(o)["names"].(map[string]interface{})
	return n
}

// checkCRD rejects what decoding a CustomResourceDefinition rejects (types
// of the fields kube-sim reads).
func checkCRD(o obj) error {
	spec, err := objectField(o["spec"], "CustomResourceDefinition.spec", "v1.CustomResourceDefinitionSpec")
	if spec == nil {
		return err
	}
	if err := checkStrings(spec, "CustomResourceDefinitionSpec.spec.", "group", "scope"); err != nil {
		return err
	}
	names, err := objectField(spec["names"], "CustomResourceDefinitionSpec.spec.names", "v1.CustomResourceDefinitionNames")
	if err != nil {
		return err
	}
	if names != nil {
		if err := checkStrings(names, "CustomResourceDefinitionNames.spec.names.", "plural", "singular", "kind", "listKind"); err != nil {
			return err
		}
	}
	if vs, ok := spec["versions"]; ok && vs != nil {
		l, ok := vs.([]interface{})
		if !ok {
			return typeError(vs, "CustomResourceDefinitionSpec.spec.versions", "[]v1.CustomResourceDefinitionVersion")
		}
		for _, v := range l {
			if _, ok := v.(map[string]interface{}); !ok {
				return typeError(v, "CustomResourceDefinitionSpec.spec.versions", "v1.CustomResourceDefinitionVersion")
			}
		}
	}
	return nil
}

// crdUnknownFields names the fields of a CRD's spec, names and versions that
// the type does not have (the schemas themselves are not checked).
func crdUnknownFields(o obj) []string {
	var out []string
	known := func(m map[string]interface{}, path string, fields ...string) {
		for _, k := range sortedKeys(m) {
			if !contains(fields, k) {
				out = append(out, path+"."+k)
			}
		}
	}
	spec := crdSpec(o)
	if spec == nil {
		return nil
	}
	known(spec, "spec", "group", "names", "scope", "versions", "conversion", "preserveUnknownFields")
	if n, ok := spec["names"].(map[string]interface{}); ok {
		known(n, "spec.names", "plural", "singular", "shortNames", "kind", "listKind", "categories")
	}
	vs, _ := spec["versions"].([]interface{})
	for i, v := range vs {
		if vm, ok := v.(map[string]interface{}); ok {
			known(vm, fmt.Sprintf("spec.versions[%d]", i), "name", "served", "storage", "deprecated", "deprecationWarning",
				"schema", "subresources", "additionalPrinterColumns", "selectableFields")
		}
	}
	return out
}

// prepareCRD is the CRD strategy's PrepareForCreate/Update plus the v1 defaults.
func prepareCRD(o, old obj) {
	spec := crdSpec(o)
	if spec != nil {
		if names, ok := spec["names"].(map[string]interface{}); ok {
			kind, _ := names["kind"].(string)
			if s, _ := names["singular"].(string); s == "" && kind != "" {
				names["singular"] = strings.ToLower(kind)
			}
			if s, _ := names["listKind"].(string); s == "" && kind != "" {
				names["listKind"] = kind + "List"
			}
		}
		if _, ok := spec["conversion"]; !ok {
			spec["conversion"] = obj{"strategy": "None"}
		}
	}
	var status obj
	if old == nil {
		status = obj{"acceptedNames": obj{"plural": "", "kind": ""}, "storedVersions": []interface{}{}}
	} else {
		status, _ = deepCopy(old["status"]).(map[string]interface{})
		if status == nil {
			status = obj{}
		}
	}
	// The storage version joins storedVersions.
	vs, _ := spec["versions"].([]interface{})
	for _, v := range vs {
		vm, _ := v.(map[string]interface{})
		if st, _ := vm["storage"].(bool); st {
			name, _ := vm["name"].(string)
			stored, _ := status["storedVersions"].([]interface{})
			status["storedVersions"] = appendUnique(stored, name)
			break
		}
	}
	o["status"] = status
}

// validateCRD is the part of ValidateCustomResourceDefinition kube-sim checks.
func validateCRD(o, old obj) []fieldError {
	var errs []fieldError
	spec := crdSpec(o)
	names := crdNames(o)
	group, _ := spec["group"].(string)
	plural, _ := names["plural"].(string)
	if name := metaString(o, "name"); name != plural+"."+group {
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "metadata.name", value: name, detail: `must be spec.names.plural+"."+spec.group`})
	}
	switch {
	case group == "":
		errs = append(errs, fieldError{typ: "FieldValueRequired", field: "spec.group"})
	case !dns1123Subdomain.MatchString(group):
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.group", value: group, detail: subdomainMsg})
	case !strings.Contains(group, "."):
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.group", value: group, detail: "should be a domain with at least one dot"})
	}
	switch scope, _ := spec["scope"].(string); scope {
	case "Cluster", "Namespaced":
	case "":
		errs = append(errs, fieldError{typ: "FieldValueRequired", field: "spec.scope"})
	default:
		errs = append(errs, fieldError{typ: "FieldValueNotSupported", field: "spec.scope", detail: fmt.Sprintf("%q: supported values: \"Cluster\", \"Namespaced\"", scope)})
	}
	for _, f := range []string{"plural", "singular", "kind", "listKind"} {
		v, _ := names[f].(string)
		switch {
		case v == "":
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: "spec.names." + f})
		case (f == "plural" || f == "singular") && !dns1123Label.MatchString(v):
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.names." + f, value: v, detail: labelMsg})
		}
	}
	vs, _ := spec["versions"].([]interface{})
	if len(vs) == 0 {
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.versions", value: rawValue("[]apiextensions.CustomResourceDefinitionVersion(nil)"), detail: "must have exactly one version marked as storage version"})
	}
	storage := 0
	seen := map[string]bool{}
	for i, v := range vs {
		p := fmt.Sprintf("spec.versions[%d]", i)
		vm, _ := v.(map[string]interface{})
		name, _ := vm["name"].(string)
		if name == "" {
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".name"})
		} else if seen[name] {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.versions", value: rawValue("…"), detail: "must contain unique version names"})
		}
		seen[name] = true
		if st, _ := vm["storage"].(bool); st {
			storage++
		}
		sch, _ := vm["schema"].(map[string]interface{})
		root, ok := sch["openAPIV3Schema"].(map[string]interface{})
		if !ok {
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: p + ".schema.openAPIV3Schema", detail: "schemas are required"})
			continue
		}
		errs = append(errs, structuralErrors(root, p+".schema.openAPIV3Schema", true)...)
		if _, err := parseSchema(root); err != nil {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: p + ".schema.openAPIV3Schema", value: "", detail: err.Error()})
		}
		cols, _ := vm["additionalPrinterColumns"].([]interface{})
		for j, c := range cols {
			cm, _ := c.(map[string]interface{})
			cp := fmt.Sprintf("%s.additionalPrinterColumns[%d]", p, j)
			if n, _ := cm["name"].(string); n == "" {
				errs = append(errs, fieldError{typ: "FieldValueRequired", field: cp + ".name"})
			}
			switch t, _ := cm["type"].(string); t {
			case "integer", "number", "string", "boolean", "date":
			case "":
				errs = append(errs, fieldError{typ: "FieldValueRequired", field: cp + ".type"})
			default:
				errs = append(errs, fieldError{typ: "FieldValueNotSupported", field: cp + ".type", detail: fmt.Sprintf("%q: supported values: \"boolean\", \"date\", \"integer\", \"number\", \"string\"", t)})
			}
			jp, _ := cm["jsonPath"].(string)
			if jp == "" {
				errs = append(errs, fieldError{typ: "FieldValueRequired", field: cp + ".jsonPath"})
			} else if _, err := parseJSONPath(jp); err != nil {
				errs = append(errs, fieldError{typ: "FieldValueInvalid", field: cp + ".jsonPath", value: jp, detail: "must be a simple json path"})
			}
		}
	}
	if len(vs) > 0 && storage != 1 {
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.versions", value: rawValue("[…]"), detail: "must have exactly one version marked as storage version"})
	}
	if old != nil {
		if s1, _ := crdSpec(old)["scope"].(string); s1 != "" && s1 != spec["scope"] {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.scope", value: spec["scope"], detail: "field is immutable"})
		}
		if g1, _ := crdSpec(old)["group"].(string); g1 != group {
			errs = append(errs, fieldError{typ: "FieldValueInvalid", field: "spec.group", value: group, detail: "field is immutable"})
		}
	}
	return errs
}

// structuralErrors reports what makes a schema non-structural that kube-sim
// can tell: a missing type (x-kubernetes-preserve-unknown-fields and
// x-kubernetes-int-or-string excepted).
func structuralErrors(m map[string]interface{}, path string, root bool) []fieldError {
	var errs []fieldError
	t, _ := m["type"].(string)
	pu, _ := m["x-kubernetes-preserve-unknown-fields"].(bool)
	ios, _ := m["x-kubernetes-int-or-string"].(bool)
	if t == "" && !pu && !ios {
		if root {
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: path + ".type", detail: "must not be empty at the root"})
		} else {
			errs = append(errs, fieldError{typ: "FieldValueRequired", field: path + ".type", detail: "must not be empty for specified object fields"})
		}
	} else if root && t != "object" && t != "" {
		errs = append(errs, fieldError{typ: "FieldValueInvalid", field: path + ".type", value: t, detail: "must be object at the root"})
	}
	if p, ok := m["properties"].(map[string]interface{}); ok {
		keys := sortedKeys(p)
		for _, k := range keys {
			if c, ok := p[k].(map[string]interface{}); ok {
				errs = append(errs, structuralErrors(c, fmt.Sprintf("%s.properties[%s]", path, k), false)...)
			}
		}
	}
	if it, ok := m["items"].(map[string]interface{}); ok {
		errs = append(errs, structuralErrors(it, path+".items", false)...)
	}
	if ap, ok := m["additionalProperties"].(map[string]interface{}); ok {
		errs = append(errs, structuralErrors(ap, path+".additionalProperties", false)...)
	}
	return errs
}

func crdCondition(typ, status, reason, message string) obj {
	return obj{"type": typ, "status": status, "lastTransitionTime": time.Now().UTC().Format(layoutTime), "reason": reason, "message": message}
}

// setCRDCondition is apihelpers.SetCRDCondition.
func setCRDCondition(status obj, c obj) {
	conds, _ := status["conditions"].([]interface{})
	for _, x := range conds {
		cm, _ := x.(map[string]interface{})
		if cm["type"] == c["type"] {
			if cm["status"] != c["status"] || cm["lastTransitionTime"] == nil {
				cm["lastTransitionTime"] = c["lastTransitionTime"]
			}
			cm["status"], cm["reason"], cm["message"] = c["status"], c["reason"], c["message"]
			return
		}
	}
	status["conditions"] = append(conds, c)
}

func crdConditionTrue(o obj, typ string) bool {
	st, _ := o["status"].(map[string]interface{})
	conds, _ := st["conditions"].([]interface{})
	for _, x := range conds {
		cm, _ := x.(map[string]interface{})
		if cm["type"] == typ {
			return cm["status"] == "True"
		}
	}
	return false
}

// crdCommitted runs, with the store locked, after every commit of a CRD:
// the naming and establishing controllers, then the serving registry.
func (s *sim) crdCommitted(e *event) {
	name := e.name
	if e.typ == "DELETED" {
		s.unserveCRD(name)
		return
	}
	cur := s.st.getLocked(resCRDs, "", name)
	if cur == nil || metaString(cur, "deletionTimestamp") != "" {
		return
	}
	status, _ := cur["status"].(map[string]interface{})
	user, verb := s.curUser, s.curVerb
	s.curUser, s.curVerb = userInfo{Username: "system:apiserver", Groups: []string{"system:masters"}}, "update"
	defer func() { s.curUser, s.curVerb = user, verb }()
	if !jsonEqual(status["acceptedNames"], s.acceptableNames(cur)) {
		// NamingConditionController.
		next := copyObj(cur)
		st := next["status"].(map[string]interface{})
		st["acceptedNames"] = s.acceptableNames(cur)
		setCRDCondition(st, crdCondition("NamesAccepted", "True", "NoConflicts", "no conflicts found"))
		if !crdConditionTrue(cur, "Established") {
			setCRDCondition(st, crdCondition("Established", "False", "Installing", "the initial names have been accepted"))
		}
		cur = s.st.commitLocked(resCRDs, "", name, "MODIFIED", next, copyObj(cur))
	}
	if crdConditionTrue(cur, "NamesAccepted") && !crdConditionTrue(cur, "Established") {
		// EstablishingController.
		next := copyObj(cur)
		setCRDCondition(next["status"].(map[string]interface{}), crdCondition("Established", "True", "InitialNamesAccepted", "the initial names have been accepted"))
		cur = s.st.commitLocked(resCRDs, "", name, "MODIFIED", next, copyObj(cur))
	}
	s.serveCRD(cur)
}

// acceptableNames is the acceptedNames the naming controller sets: the
// spec's names (kube-sim does not check conflicts between CRDs).
func (s *sim) acceptableNames(crd obj) obj {
	names := crdNames(crd)
	out := obj{"plural": names["plural"], "kind": names["kind"]}
	for _, f := range []string{"singular", "listKind"} {
		if v, _ := names[f].(string); v != "" {
			out[f] = v
		}
	}
	for _, f := range []string{"shortNames", "categories"} {
		if v, ok := names[f].([]interface{}); ok && len(v) > 0 {
			out[f] = deepCopy(v)
		}
	}
	return out
}

// serveCRD (re)builds the served resources of an established CRD.
func (s *sim) serveCRD(crd obj) {
	name := metaString(crd, "name")
	spec := crdSpec(crd)
	st, _ := crd["status"].(map[string]interface{})
	names, _ := st["acceptedNames"].(map[string]interface{})
	group, _ := spec["group"].(string)
	scope, _ := spec["scope"].(string)
	plural, _ := names["plural"].(string)
	var established time.Time
	conds, _ := st["conditions"].([]interface{})
	for _, c := range conds {
		cm, _ := c.(map[string]interface{})
		if cm["type"] == "Established" {
			established, _ = apiParseTime(layoutTime, str(cm, "lastTransitionTime"))
		}
	}
	s.crs.mu.Lock()
	defer s.crs.mu.Unlock()
	if s.crs.byCRD == nil {
		s.crs.byCRD = map[string]*crdServing{}
	}
	e := s.crs.byCRD[name]
	if e != nil && (e.uid != metaString(crd, "uid") || e.storage.resource != plural || e.storage.group != group) {
		s.dropServingLocked(name)
		e = nil
	}
	if e == nil {
		e = &crdServing{uid: metaString(crd, "uid"), versions: map[string]*resDef{},
			storage: &resDef{group: group, resource: plural, kind: str(names, "kind"), namespaced: scope == "Namespaced"}}
		s.crs.byCRD[name] = e
	}
	served := map[string]bool{}
	vs, _ := spec["versions"].([]interface{})
	for _, v := range vs {
		vm, _ := v.(map[string]interface{})
		vname, _ := vm["name"].(string)
		if sv, _ := vm["served"].(bool); !sv || vname == "" {
			continue
		}
		served[vname] = true
		cv := &crdVersion{crdName: name, established: established}
		sch, _ := vm["schema"].(map[string]interface{})
		cv.schema, _ = parseSchema(sch["openAPIV3Schema"])
		if sub, ok := vm["subresources"].(map[string]interface{}); ok {
			_, cv.status = sub["status"].(map[string]interface{})
		}
		cv.columns = printerColumns(vm["additionalPrinterColumns"])
		r := e.versions[vname]
		if r == nil {
			r = newCRResource(e.storage, vname, names, scope == "Namespaced")
			e.versions[vname] = r
		}
		r.crv.Store(cv)
	}
	for v, r := range e.versions {
		if !served[v] {
			delete(e.versions, v)
			s.stopWatchersLocked(r)
		}
	}
}

func (s *sim) unserveCRD(name string) {
	s.crs.mu.Lock()
	defer s.crs.mu.Unlock()
	s.dropServingLocked(name)
}

func (s *sim) dropServingLocked(name string) {
	e := s.crs.byCRD[name]
	if e == nil {
		return
	}
	for _, r := range e.versions {
		s.stopWatchersLocked(r)
	}
	delete(s.crs.byCRD, name)
}

// stopWatchersLocked ends the watches of R (its CRD is gone or the version
// no longer served), as kube-apiserver does when it tears down the storage.
func (s *sim) stopWatchersLocked(r *resDef) {
	for w := range s.st.watchers {
		if w.res == r {
			w.stop()
			delete(s.st.watchers, w)
		}
	}
}

// newCRResource is the resDef of one served version of a CRD.
func newCRResource(storage *resDef, version string, names map[string]interface{}, namespaced bool) *resDef {
	r := &resDef{group: storage.group, version: version, resource: str(names, "plural"), kind: str(names, "kind"),
		singular: str(names, "singular"), namespaced: namespaced, hasGeneration: true, requireRV: true,
		verbs:      []string{"delete", "deletecollection", "get", "list", "patch", "create", "update", "watch"},
		shortNames: strList(names["shortNames"]), categories: strList(names["categories"]), storage: storage,
		listKindName: str(names, "listKind")}
	r.prepare = func(o, old obj) { prepareCR(r, o, old) }
	r.validate = func(o, old obj) []fieldError { return validateCR(r, o, old) }
	r.specChanged = func(o, old obj) bool {
		a, b := copyObj(o), copyObj(old)
		delete(a, "metadata")
		delete(b, "metadata")
		return !jsonEqual(a, b)
	}
	r.status = func() bool { cv := r.cr(); return cv != nil && cv.status }
	r.prepareStatus = func(o, old obj) {
		st, ok := o["status"]
		for k := range o {
			delete(o, k)
		}
		for k, v := range copyObj(old) {
			o[k] = v
		}
		if ok {
			o["status"] = st
		} else {
			delete(o, "status")
		}
	}
	r.validateStatus = func(o, old obj) []fieldError { return validateCRStatus(r, o, old) }
	return r
}

// prepareCR is the custom resource strategy's PrepareForCreate/Update: with
// the status subresource, writes to the resource cannot set status.
func prepareCR(r *resDef, o, old obj) {
	cv := r.cr()
	if cv == nil || !cv.status {
		return
	}
	if old == nil {
		delete(o, "status")
		return
	}
	if st, ok := old["status"]; ok {
		o["status"] = deepCopy(st)
	} else {
		delete(o, "status")
	}
}

func validateCR(r *resDef, o, old obj) []fieldError {
	if k, _ := o["kind"].(string); k != r.kind {
		return []fieldError{{typ: "FieldValueInvalid", field: "kind", value: k, detail: "must be " + r.kind}}
	}
	cv := r.cr()
	if cv == nil || cv.schema == nil {
		return nil
	}
	v := &validation{}
	v.validate(map[string]interface{}(o), cv.schema, "", map[string]interface{}(old), old != nil)
	errs := v.fieldErrors("")
	if old == nil || len(listTypeErrors(map[string]interface{}(old), cv.schema, "")) == 0 {
		errs = append(errs, listTypeErrors(map[string]interface{}(o), cv.schema, "")...)
	}
	return errs
}

// validateCRStatus validates .status against the status schema, without
// ratcheting (as the status strategy does).
func validateCRStatus(r *resDef, o, old obj) []fieldError {
	cv := r.cr()
	if cv == nil || cv.schema == nil {
		return nil
	}
	st, ok := o["status"]
	if !ok {
		return nil
	}
	v := &validation{}
	v.validate(st, cv.schema.props["status"], "", nil, false)
	errs := v.fieldErrors("status")
	if nl := listTypeErrors(map[string]interface{}(o), cv.schema, ""); len(nl) > 0 && len(listTypeErrors(map[string]interface{}(old), cv.schema, "")) == 0 {
		errs = append(errs, nl...)
	}
	return errs
}

var metaKnown = map[string]string{"name": "string", "generateName": "string", "namespace": "string", "selfLink": "string",
	"uid": "string", "resourceVersion": "string", "generation": "int64", "deletionGracePeriodSeconds": "int64",
	"labels": "map[string]string", "annotations": "map[string]string", "finalizers": "[]string",
	"creationTimestamp": "time", "deletionTimestamp": "time", "ownerReferences": "list", "managedFields": "list"}

// decodeCR is the custom resource decoder: apiVersion, metadata decoded as
// ObjectMeta, unknown fields pruned (Strict: 400, Warn: warnings), nulls
// dropped, defaults applied.  Numbers become int64/float64, as unstructured.
func (s *sim) decodeCR(rc *reqCtx, res *resDef, o obj) (obj, *apiStatus) {
	av, _ := o["apiVersion"].(string)
	kind, _ := o["kind"].(string)
	if av != "" && av != res.groupVersion() {
		return nil, errBadRequest(fmt.Sprintf("the API version in the data (%s) does not match the expected API version (%s)", av, res.groupVersion()))
	}
	if av == "" {
		o["apiVersion"] = res.groupVersion()
	}
	if kind == "" {
		o["kind"] = res.kind
		kind = res.kind
	}
	var unknown []string
	if m, ok := o["metadata"]; ok {
		mm, ok := m.(map[string]interface{})
		if !ok && m != nil {
			return nil, decodeError(res, kind, av, o, fmt.Errorf("json: cannot unmarshal %s into Go value of type v1.ObjectMeta", jsonTypeName(m)))
		}
		for _, k := range sortedKeys(mm) {
			t, known := metaKnown[k]
			if !known {
				unknown = append(unknown, "metadata."+k)
				delete(mm, k)
				continue
			}
			var err error
			switch t {
			case "string":
				err = checkString(mm[k], "ObjectMeta."+k)
			case "int64":
				err = checkInt64(mm[k], "ObjectMeta."+k)
			case "time":
				err = canonicalTimeField(mm, k, false, k == "deletionTimestamp", "ObjectMeta."+k)
			case "map[string]string":
				if x, ok := mm[k].(map[string]interface{}); ok {
					for _, val := range x {
						if e := checkString(val, "ObjectMeta."+k); e != nil {
							err = e
						}
					}
				} else if mm[k] != nil {
					err = typeError(mm[k], "ObjectMeta."+k, t)
				}
			}
			if err != nil {
				return nil, decodeError(res, kind, av, o, err)
			}
		}
	}
	cv := res.cr()
	var schema *schemaNode
	if cv != nil {
		schema = cv.schema
	}
	u := &unknownPaths{}
	prune(map[string]interface{}(o), schema, "", true, u)
	sort.Strings(u.paths)
	unknown = append(unknown, u.paths...)
	pruneNulls(map[string]interface{}(o), schema)
	if err := rc.unknownFields(unknown); err != nil {
		return nil, decodeError(res, kind, av, o, err)
	}
	for k, v := range o {
		if k != "metadata" {
			o[k] = jsonValue(v)
		}
	}
	applyDefaults(map[string]interface{}(o), schema)
	return o, nil
}

// crdDelete is the CRD's DELETE: mark it (deletionTimestamp, finalizer,
// Terminating), delete its custom resources, then the CRD.  Called with the
// store locked; returns the marked CRD, which is the answer.
func (s *sim) crdDeleteLocked(name string, cur obj) obj {
	marked := copyObj(cur)
	m := meta(marked)
	m["deletionTimestamp"] = time.Now().UTC().Format(layoutTime)
	fins, _ := m["finalizers"].([]interface{})
	m["finalizers"] = appendUnique(fins, crdFinalizer)
	st, _ := marked["status"].(map[string]interface{})
	if st == nil {
		st = obj{}
		marked["status"] = st
	}
	setCRDCondition(st, crdCondition("Terminating", "True", "InstanceDeletionPending", "CustomResourceDefinition marked for deletion; CustomResource deletion will begin soon"))
	out := s.st.commitLocked(resCRDs, "", name, "MODIFIED", marked, copyObj(cur))
	// The finalizer's work, done at once.
	s.crs.mu.RLock()
	e := s.crs.byCRD[name]
	s.crs.mu.RUnlock()
	if e != nil {
		for _, o := range s.st.listLocked(e.storage, "", nil) {
			s.st.commitLocked(e.storage, metaString(o, "namespace"), metaString(o, "name"), "DELETED", nil, o)
		}
	}
	last := s.st.getLocked(resCRDs, "", name)
	s.st.commitLocked(resCRDs, "", name, "DELETED", nil, copyObj(last))
	return out
}

// presentCR sets the apiVersion a custom resource is read in (the versions
// of a CRD share storage; conversion strategy None only rewrites it).
func presentCR(res *resDef, o obj) obj {
	if res.storage != nil && o != nil {
		o["apiVersion"] = res.groupVersion()
	}
	return o
}
