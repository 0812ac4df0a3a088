// Package jsonx is json.Marshal and json.Unmarshal for the hot paths:
// vendor answers (one per node on a cold dashboard) and cache values. It is
// github.com/goccy/go-json, a drop-in for encoding/json that decodes a
// Run:ai metrics answer about twice as fast (backends/runai
// BenchmarkDecodeNodeMetrics: ~40 -> 19 µs). Everything else keeps
// encoding/json.
package jsonx

import gojson "github.com/goccy/go-json"

// Marshal is json.Marshal.
func Marshal(v any) ([]byte, error) { return gojson.Marshal(v) }

// Unmarshal is json.Unmarshal.
func Unmarshal(data []byte, v any) error { return gojson.Unmarshal(data, v) }
