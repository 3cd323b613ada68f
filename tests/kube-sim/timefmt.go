package main

import (
	"time"
)

// Times as kube-apiserver decodes and re-encodes them.
//
// metav1.Time (creationTimestamp, deletionTimestamp, ...) is read with
// time.Parse(time.RFC3339, s) and written as UTC, "Z", whole seconds.
// metav1.MicroTime (Lease spec.acquireTime, spec.renewTime) is read by its
// UnmarshalJSON with time.Parse(RFC3339Micro = "2006-01-02T15:04:05.000000Z07:00", s)
// and written by MarshalJSON as t.UTC().Format(RFC3339Micro): UTC, "Z",
// exactly six fraction digits, whatever zone was written.  The zero instant
// is written as null.  So an offset ("+05:30") or a comma fraction is
// accepted and normalised; a parse error ("+25:00") is returned by the JSON
// decoder as it is (only type errors get "Go struct field …" context), and
// kube-apiserver answers it as a decode error: 400 BadRequest "Lease in
// version "v1" cannot be handled as a Lease: parsing time "…": …", which
// quotes the value, not the field.  The write path then compares the encoded
// object with the stored one and skips the write when equal: the same instant
// in another zone is a no-op update (same resourceVersion, no watch event).
//
// kube-apiserver 1.32 is built with Go 1.23, whose time.Parse differs from
// Go 1.19's (kube-sim's toolchain): it rejects zone offsets above 24 hours
// ("time zone offset hour out of range"), reads offsets with exactly two
// digits per field, and names the whole element that failed in its errors.
// So kube-sim does not call time.Parse: apiParseTime below is Go 1.23's
// parse for these two layouts, error messages included.  What it accepts:
//   - a 4-digit year, 2-digit month and day, a 1- or 2-digit hour, 2-digit
//     minutes and seconds, then ranges checked (month 1-12, hour < 24,
//     minute < 60, second < 60, day within the month);
//   - fraction: '.' or ',' as separator.  RFC3339: any number of digits
//     (nanoseconds kept, more than 9 digits truncated); MicroTime: exactly 6;
//   - zone: "Z" (upper case only) or ±hh:mm with hh <= 24 and mm <= 60.
const (
	layoutTime      = time.RFC3339
	layoutMicroTime = "2006-01-02T15:04:05.000000Z07:00"
)

// timeParseError is time.ParseError, formatted as its Error method does.
type timeParseError struct {
	layout, value, layoutElem, valueElem, message string
}

func (e *timeParseError) Error() string {
	if e.message == "" {
		return "parsing time " + timeQuote(e.value) + " as " + timeQuote(e.layout) + ": cannot parse " +
			timeQuote(e.valueElem) + " as " + timeQuote(e.layoutElem)
	}
	return "parsing time " + timeQuote(e.value) + e.message
}

// timeQuote is the time package's quote: \xNN for bytes of non-ASCII and
// control characters, \" and \\ escaped.
func timeQuote(s string) string {
	const hex = "0123456789abcdef"
	buf := []byte{'"'}
	for i, c := range s {
		if c >= 0x80 || c < ' ' {
			width := len(string(c))
			if c == 0xFFFD {
				width = 1
				if i+2 < len(s) && s[i:i+3] == string(rune(0xFFFD)) {
					width = 3
				}
			}
			for j := 0; j < width && i+j < len(s); j++ {
				buf = append(buf, '\\', 'x', hex[s[i+j]>>4], hex[s[i+j]&0xF])
			}
			continue
		}
		if c == '"' || c == '\\' {
			buf = append(buf, '\\')
		}
		buf = append(buf, string(c)...)
	}
	return string(append(buf, '"'))
}

func isDigitAt(s string, i int) bool { return i < len(s) && s[i] >= '0' && s[i] <= '9' }

// getnum reads 1 or 2 digits (FIXED: exactly 2), as the time package does.
func getnum(s string, fixed bool) (int, string, bool) {
	if !isDigitAt(s, 0) {
		return 0, s, false
	}
	if !isDigitAt(s, 1) {
		if fixed {
			return 0, s, false
		}
		return int(s[0] - '0'), s[1:], true
	}
	return int(s[0]-'0')*10 + int(s[1]-'0'), s[2:], true
}

// timeAtoi is the time package's atoi: an optional sign, then digits only.
func timeAtoi(s string) (int, bool) {
	neg := false
	if len(s) > 0 && (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-'
		s = s[1:]
	}
	if s == "" {
		return 0, true // leadingInt("") consumes nothing and is no error
	}
	var x uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' || x > 1<<63/10 {
			return 0, false
		}
		x = x*10 + uint64(c-'0')
		if x > 1<<63 {
			return 0, false
		}
	}
	if neg {
		return -int(x), true
	}
	return int(x), true
}

// parseNanos is the time package's parseNanoseconds: VALUE[0] is the separator.
func parseNanos(value string, nbytes int) (ns int, rangeErr string, ok bool) {
	if value[0] != '.' && value[0] != ',' {
		return 0, "", false
	}
	if nbytes > 10 {
		value, nbytes = value[:10], 10
	}
	if ns, ok = timeAtoi(value[1:nbytes]); !ok {
		return 0, "", false
	}
	if ns < 0 {
		return 0, "fractional second", true
	}
	for i := 0; i < 10-nbytes; i++ {
		ns *= 10
	}
	return ns, "", true
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// apiParseTime is Go 1.23's time.Parse(layout, value) for layoutTime and layoutMicroTime.
func apiParseTime(layout, value string) (time.Time, error) {
	type chunk struct {
		prefix, elem string
	}
	chunks := []chunk{{"", "2006"}, {"-", "01"}, {"-", "02"}, {"T", "15"}, {":", "04"}, {":", "05"}}
	micro := layout == layoutMicroTime
	if micro {
		chunks = append(chunks, chunk{"", ".000000"})
	}
	chunks = append(chunks, chunk{"", "Z07:00"})
	var year, month, day, hour, min, sec, nsec, offset int
	utc := false
	v := value
	for _, c := range chunks {
		// The literal text before the element.
		for i := 0; i < len(c.prefix); i++ {
			if len(v) == 0 || v[0] != c.prefix[i] {
				return time.Time{}, &timeParseError{layout, value, c.prefix, v, ""}
			}
			v = v[1:]
		}
		hold := v
		ok := true
		rangeErr := ""
		switch c.elem {
		case "2006":
			if len(v) < 4 || !isDigitAt(v, 0) {
				ok = false
				break
			}
			year, ok = timeAtoi(v[:4])
			v = v[4:]
		case "01":
			month, v, ok = getnum(v, true)
			if ok && (month <= 0 || month > 12) {
				rangeErr = "month"
			}
		case "02":
			day, v, ok = getnum(v, true)
		case "15":
			hour, v, ok = getnum(v, false)
			if hour < 0 || hour >= 24 {
				rangeErr = "hour"
			}
		case "04":
			min, v, ok = getnum(v, true)
			if min < 0 || min >= 60 {
				rangeErr = "minute"
			}
		case "05":
			if sec, v, ok = getnum(v, true); !ok {
				break
			}
			if sec < 0 || sec >= 60 {
				rangeErr = "second"
				break
			}
			// A fraction the layout does not have: any number of digits.
			if !micro && len(v) >= 2 && (v[0] == '.' || v[0] == ',') && isDigitAt(v, 1) {
				n := 2
				for n < len(v) && isDigitAt(v, n) {
					n++
				}
				nsec, rangeErr, ok = parseNanos(v, n)
				v = v[n:]
			}
		case ".000000":
			if len(v) < 7 {
				ok = false
				break
			}
			nsec, rangeErr, ok = parseNanos(v, 7)
			v = v[7:]
		case "Z07:00":
			if len(v) >= 1 && v[0] == 'Z' {
				v = v[1:]
				utc = true
				break
			}
			if len(v) < 6 || v[3] != ':' {
				ok = false
				break
			}
			sign, hh, mm := v[0], v[1:3], v[4:6]
			v = v[6:]
			var hr, mi int
			if hr, _, ok = getnum(hh, true); ok {
				mi, _, ok = getnum(mm, true)
			}
			if hr > 24 {
				rangeErr = "time zone offset hour"
			}
			if mi > 60 {
				rangeErr = "time zone offset minute"
			}
			offset = (hr*60 + mi) * 60
			switch sign {
			case '+':
			case '-':
				offset = -offset
			default:
				ok = false
			}
		}
		if rangeErr != "" {
			return time.Time{}, &timeParseError{layout, value, c.elem, v, ": " + rangeErr + " out of range"}
		}
		if !ok {
			return time.Time{}, &timeParseError{layout, value, c.elem, hold, ""}
		}
	}
	if len(v) != 0 {
		return time.Time{}, &timeParseError{layout, value, "", v, ": extra text: " + timeQuote(v)}
	}
	if day < 1 || day > daysIn(time.Month(month), year) {
		return time.Time{}, &timeParseError{layout, value, "", v, ": day out of range"}
	}
	t := time.Date(year, time.Month(month), day, hour, min, sec, nsec, time.UTC)
	if !utc {
		t = t.Add(-time.Duration(offset) * time.Second)
	}
	return t, nil
}

// apiTimeValue is the JSON value metav1.Time / MicroTime write for T: null
// for the zero instant, else UTC "Z" with 0 or 6 fraction digits.
func apiTimeValue(t time.Time, micro bool) interface{} {
	if t.IsZero() {
		return nil
	}
	if micro {
		return t.UTC().Format(layoutMicroTime)
	}
	return t.UTC().Format(layoutTime)
}

// canonicalTime decodes the JSON value V of a time field as the typed decoder
// does (GOFIELD names it in errors, e.g. "LeaseSpec.spec.renewTime") and
// returns what kube-apiserver then stores and sends back.  A null stays null.
func canonicalTime(v interface{}, micro bool, goField string) (interface{}, time.Time, error) {
	switch t := v.(type) {
	case nil:
		return nil, time.Time{}, nil
	case string:
		layout := layoutTime
		if micro {
			layout = layoutMicroTime
		}
		pt, err := apiParseTime(layout, t)
		if err != nil {
			return nil, time.Time{}, err
		}
		return apiTimeValue(pt, micro), pt, nil
	default:
		return nil, time.Time{}, typeError(v, goField, "string")
	}
}

// canonicalTimeField rewrites M[K] with canonicalTime.  POINTER fields
// (*metav1.Time, *metav1.MicroTime) given as null are dropped (a nil pointer
// is omitted); a pointer to the zero instant is written as null.
func canonicalTimeField(m map[string]interface{}, k string, micro, pointer bool, goField string) error {
	v, ok := m[k]
	if !ok {
		return nil
	}
	if v == nil && pointer {
		delete(m, k)
		return nil
	}
	out, _, err := canonicalTime(v, micro, goField)
	if err != nil {
		return err
	}
	m[k] = out
	return nil
}
