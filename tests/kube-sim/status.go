package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// statusCause is metav1.StatusCause.
type statusCause struct {
	Reason  string `json:"reason,omitempty"`
	Message string `json:"message,omitempty"`
	Field   string `json:"field,omitempty"`
}

// statusDetails is metav1.StatusDetails.
type statusDetails struct {
	Name              string        `json:"name,omitempty"`
	Group             string        `json:"group,omitempty"`
	Kind              string        `json:"kind,omitempty"`
	UID               string        `json:"uid,omitempty"`
	Causes            []statusCause `json:"causes,omitempty"`
	RetryAfterSeconds int           `json:"retryAfterSeconds,omitempty"`
}

// apiStatus is metav1.Status, serialized the way kube-apiserver does.
type apiStatus struct {
	Kind       string            `json:"kind"`
	APIVersion string            `json:"apiVersion"`
	Metadata   map[string]string `json:"metadata"`
	Status     string            `json:"status,omitempty"`
	Message    string            `json:"message,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Details    *statusDetails    `json:"details,omitempty"`
	Code       int               `json:"code,omitempty"`
	// headers to add to the response (Retry-After); not serialized.
	headers map[string]string
}

func (s *apiStatus) Error() string { return s.Message }

func newStatus(code int, reason, msg string, d *statusDetails) *apiStatus {
	return &apiStatus{Kind: "Status", APIVersion: "v1", Metadata: map[string]string{},
		Status: "Failure", Message: msg, Reason: reason, Details: d, Code: code}
}

// qualified is "leases.coordination.k8s.io" or "configmaps".
func qualified(group, resource string) string {
	if group == "" {
		return resource
	}
	return resource + "." + group
}

func errNotFound(group, resource, name string) *apiStatus {
	return newStatus(404, "NotFound", fmt.Sprintf("%s %q not found", qualified(group, resource), name),
		&statusDetails{Name: name, Group: group, Kind: resource})
}

func errAlreadyExists(group, resource, name string) *apiStatus {
	return newStatus(409, "AlreadyExists", fmt.Sprintf("%s %q already exists", qualified(group, resource), name),
		&statusDetails{Name: name, Group: group, Kind: resource})
}

const optimisticLockMsg = "the object has been modified; please apply your changes to the latest version and try again"

func errConflict(group, resource, name, why string) *apiStatus {
	return newStatus(409, "Conflict", fmt.Sprintf("Operation cannot be fulfilled on %s %q: %s", qualified(group, resource), name, why),
		&statusDetails{Name: name, Group: group, Kind: resource})
}

func errBadRequest(msg string) *apiStatus {
	return newStatus(400, "BadRequest", msg, nil)
}

func errInternal(msg string) *apiStatus {
	return newStatus(500, "InternalError", "Internal error occurred: "+msg,
		&statusDetails{Causes: []statusCause{{Message: msg}}})
}

func errMethodNotSupported(group, resource, action string) *apiStatus {
	return newStatus(405, "MethodNotAllowed", fmt.Sprintf("%s is not supported on resources of kind %q", action, qualified(group, resource)),
		&statusDetails{Group: group, Kind: resource})
}

func errNotFoundPath() *apiStatus {
	return newStatus(404, "NotFound", "the server could not find the requested resource", &statusDetails{})
}

func errUnauthorized() *apiStatus {
	return newStatus(401, "Unauthorized", "Unauthorized", nil)
}

func errGone(msg string) *apiStatus {
	return newStatus(410, "Expired", msg, nil)
}

// fieldError is one field.Error of a validation.
type fieldError struct {
	typ    string // "FieldValueInvalid", "FieldValueRequired", ...
	field  string
	value  interface{}
	hasV   bool
	detail string
}

func (e fieldError) causeMessage() string {
	switch e.typ {
	case "FieldValueRequired":
		if e.detail != "" {
			return "Required value: " + e.detail
		}
		return "Required value"
	case "FieldValueForbidden":
		return "Forbidden: " + e.detail
	case "FieldValueNotSupported":
		return fmt.Sprintf("Unsupported value: %s", e.detail)
	case "FieldValueDuplicate":
		return fmt.Sprintf("Duplicate value: %s", valueString(e.value))
	case "FieldValueTooLong":
		return "Too long: " + e.detail
	case "FieldValueTooMany":
		return fmt.Sprintf("Too many: %s: %s", valueString(e.value), e.detail)
	}
	s := "Invalid value: " + valueString(e.value)
	if e.detail != "" {
		s += ": " + e.detail
	}
	return s
}

// rawValue is a bad value printed as is (what field.Error does for a fmt.Stringer).
type rawValue string

func valueString(v interface{}) string {
	switch t := v.(type) {
	case rawValue:
		return string(t)
	case string:
		return fmt.Sprintf("%q", t)
	case json.Number:
		return t.String()
	case nil:
		return "null"
	default:
		b, _ := json.Marshal(t)
		return string(b)
	}
}

// errInvalid is apierrors.NewInvalid: 422 with one cause per field error.
func errInvalid(group, kind, name string, errs []fieldError) *apiStatus {
	var causes []statusCause
	var msgs []string
	for _, e := range errs {
		cm := e.causeMessage()
		causes = append(causes, statusCause{Reason: e.typ, Message: cm, Field: e.field})
		msgs = append(msgs, e.field+": "+cm)
	}
	q := kind
	if group != "" {
		q = kind + "." + group
	}
	var msg string
	if len(msgs) == 1 {
		msg = fmt.Sprintf("%s %q is invalid: %s", q, name, msgs[0])
	} else {
		msg = fmt.Sprintf("%s %q is invalid: [%s]", q, name, strings.Join(msgs, ", "))
	}
	return newStatus(422, "Invalid", msg, &statusDetails{Name: name, Group: group, Kind: kind, Causes: causes})
}

// statusForCode makes an injected failure look like the real one for CODE.
func statusForCode(code int, retryAfter int) *apiStatus {
	var s *apiStatus
	switch code {
	case 400:
		s = errBadRequest("injected fault")
	case 401:
		s = errUnauthorized()
	case 403:
		s = newStatus(403, "Forbidden", "forbidden: injected fault", nil)
	case 404:
		s = errNotFoundPath()
	case 409:
		s = newStatus(409, "Conflict", "Operation cannot be fulfilled: injected fault", nil)
	case 410:
		s = errGone("too old resource version: injected fault")
	case 429:
		s = newStatus(429, "TooManyRequests", "Too many requests, please try again later.", &statusDetails{})
	case 500:
		s = errInternal("injected fault")
	case 503:
		s = newStatus(503, "ServiceUnavailable", "the server is currently unable to handle the request", nil)
	case 504:
		s = newStatus(504, "Timeout", "the server was unable to return a response in the time allotted, but may still be processing the request", nil)
	default:
		s = newStatus(code, "", fmt.Sprintf("an error on the server (\"injected fault\") has prevented the request from succeeding"), nil)
		if code < 500 {
			s.Reason = "BadRequest"
		} else {
			s.Reason = "InternalError"
		}
	}
	if retryAfter > 0 {
		if s.Details == nil {
			s.Details = &statusDetails{}
		}
		s.Details.RetryAfterSeconds = retryAfter
		s.headers = map[string]string{"Retry-After": fmt.Sprint(retryAfter)}
	}
	return s
}

func writeStatus(w http.ResponseWriter, s *apiStatus) {
	for k, v := range s.headers {
		w.Header().Set(k, v)
	}
	writeJSON(w, s.Code, s)
}

func writeJSON(w http.ResponseWriter, code int, v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		b = []byte(`{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"encoding failed","reason":"InternalError","code":500}`)
		code = 500
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
	_, _ = w.Write([]byte("\n"))
}
