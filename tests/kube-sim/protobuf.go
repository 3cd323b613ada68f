package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// Kubernetes protobuf request bodies (application/vnd.kubernetes.protobuf),
// decoded into the JSON form for the types kubectl's typed clients send:
// ConfigMap, Namespace, Lease.  The envelope is "k8s\x00" + runtime.Unknown.

type pbField struct {
	num    int
	wire   int
	varint uint64
	data   []byte
}

func pbParse(b []byte) ([]pbField, error) {
	var out []pbField
	for len(b) > 0 {
		key, n := pbVarint(b)
		if n <= 0 {
			return nil, errors.New("bad protobuf key")
		}
		b = b[n:]
		f := pbField{num: int(key >> 3), wire: int(key & 7)}
		switch f.wire {
		case 0:
			v, n := pbVarint(b)
			if n <= 0 {
				return nil, errors.New("bad protobuf varint")
			}
			f.varint, b = v, b[n:]
		case 2:
			l, n := pbVarint(b)
			if n <= 0 || uint64(len(b)-n) < l {
				return nil, errors.New("bad protobuf length")
			}
			f.data, b = b[n:n+int(l)], b[n+int(l):]
		case 1:
			if len(b) < 8 {
				return nil, errors.New("short fixed64")
			}
			b = b[8:]
		case 5:
			if len(b) < 4 {
				return nil, errors.New("short fixed32")
			}
			b = b[4:]
		default:
			return nil, fmt.Errorf("unsupported protobuf wire type %d", f.wire)
		}
		out = append(out, f)
	}
	return out, nil
}

func pbVarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func pbMapEntry(b []byte) (string, []byte, error) {
	fs, err := pbParse(b)
	if err != nil {
		return "", nil, err
	}
	var k string
	var v []byte
	for _, f := range fs {
		switch f.num {
		case 1:
			k = string(f.data)
		case 2:
			v = f.data
		}
	}
	return k, v, nil
}

// pbTime decodes a Timestamp as metav1.Time/MicroTime's Unmarshal does:
// no bytes (also what the epoch encodes to) is the zero time, written as null.
func pbTime(b []byte, micro bool) (interface{}, error) {
	if len(b) == 0 {
		return nil, nil
	}
	fs, err := pbParse(b)
	if err != nil {
		return nil, err
	}
	var sec, nsec int64
	for _, f := range fs {
		switch f.num {
		case 1:
			sec = int64(f.varint)
		case 2:
			nsec = int64(int32(f.varint))
		}
	}
	return apiTimeValue(time.Unix(sec, nsec), micro), nil
}

func pbObjectMeta(b []byte) (obj, error) {
	fs, err := pbParse(b)
	if err != nil {
		return nil, err
	}
	m := obj{}
	strs := map[int]string{1: "name", 2: "generateName", 3: "namespace", 4: "selfLink", 5: "uid", 6: "resourceVersion"}
	for _, f := range fs {
		if k, ok := strs[f.num]; ok {
			if len(f.data) > 0 { // omitempty in the JSON form
				m[k] = string(f.data)
			}
			continue
		}
		switch f.num {
		case 7:
			m["generation"] = json.Number(strconv.FormatInt(int64(f.varint), 10))
		case 8:
			if t, err := pbTime(f.data, false); err == nil {
				m["creationTimestamp"] = t
			}
		case 11, 12:
			k, v, err := pbMapEntry(f.data)
			if err != nil {
				return nil, err
			}
			name := "labels"
			if f.num == 12 {
				name = "annotations"
			}
			mm, _ := m[name].(map[string]interface{})
			if mm == nil {
				mm = obj{}
				m[name] = mm
			}
			mm[k] = string(v)
		case 13:
			rfs, err := pbParse(f.data)
			if err != nil {
				return nil, err
			}
			ref := obj{}
			for _, r := range rfs {
				switch r.num {
				case 1:
					ref["kind"] = string(r.data)
				case 3:
					ref["name"] = string(r.data)
				case 4:
					ref["uid"] = string(r.data)
				case 5:
					ref["apiVersion"] = string(r.data)
				case 6:
					ref["controller"] = r.varint != 0
				case 7:
					ref["blockOwnerDeletion"] = r.varint != 0
				}
			}
			l, _ := m["ownerReferences"].([]interface{})
			m["ownerReferences"] = append(l, ref)
		case 14:
			l, _ := m["finalizers"].([]interface{})
			m["finalizers"] = append(l, string(f.data))
		}
	}
	return m, nil
}

// decodeProtobuf turns a protobuf body for RES into its JSON object form.
func decodeProtobuf(res *resDef, body []byte) (obj, error) {
	if !bytes.HasPrefix(body, []byte("k8s\x00")) {
		return nil, errors.New("provided data does not appear to be a protobuf message, expected prefix [107 56 115 0]")
	}
	env, err := pbParse(body[4:])
	if err != nil {
		return nil, err
	}
	var apiVersion, kind string
	var raw []byte
	for _, f := range env {
		switch f.num {
		case 1:
			tm, err := pbParse(f.data)
			if err != nil {
				return nil, err
			}
			for _, t := range tm {
				if t.num == 1 {
					apiVersion = string(t.data)
				} else if t.num == 2 {
					kind = string(t.data)
				}
			}
		case 2:
			raw = f.data
		}
	}
	fs, err := pbParse(raw)
	if err != nil {
		return nil, err
	}
	o := obj{}
	if apiVersion != "" {
		o["apiVersion"] = apiVersion
	}
	if kind != "" {
		o["kind"] = kind
	}
	for _, f := range fs {
		if f.num == 1 {
			m, err := pbObjectMeta(f.data)
			if err != nil {
				return nil, err
			}
			o["metadata"] = m
			continue
		}
		switch res {
		case resConfigMaps:
			switch f.num {
			case 2, 3:
				k, v, err := pbMapEntry(f.data)
				if err != nil {
					return nil, err
				}
				name, val := "data", interface{}(string(v))
				if f.num == 3 {
					name, val = "binaryData", base64.StdEncoding.EncodeToString(v)
				}
				mm, _ := o[name].(map[string]interface{})
				if mm == nil {
					mm = obj{}
					o[name] = mm
				}
				mm[k] = val
			case 4:
				o["immutable"] = f.varint != 0
			}
		case resNamespaces:
			if f.num == 2 {
				sfs, err := pbParse(f.data)
				if err != nil {
					return nil, err
				}
				var fins []interface{}
				for _, s := range sfs {
					if s.num == 1 {
						fins = append(fins, string(s.data))
					}
				}
				o["spec"] = obj{"finalizers": fins}
			}
		case resLeases:
			if f.num == 2 {
				sfs, err := pbParse(f.data)
				if err != nil {
					return nil, err
				}
				spec := obj{}
				for _, s := range sfs {
					switch s.num {
					case 1:
						spec["holderIdentity"] = string(s.data)
					case 2:
						spec["leaseDurationSeconds"] = json.Number(strconv.FormatInt(int64(int32(s.varint)), 10))
					case 3, 4:
						t, err := pbTime(s.data, true)
						if err != nil {
							return nil, err
						}
						if s.num == 3 {
							spec["acquireTime"] = t
						} else {
							spec["renewTime"] = t
						}
					case 5:
						spec["leaseTransitions"] = json.Number(strconv.FormatInt(int64(int32(s.varint)), 10))
					case 6:
						spec["strategy"] = string(s.data)
					case 7:
						spec["preferredHolder"] = string(s.data)
					}
				}
				o["spec"] = spec
			}
		default:
			return nil, fmt.Errorf("protobuf is not supported by kube-sim for %s", res.resource)
		}
	}
	return o, nil
}
