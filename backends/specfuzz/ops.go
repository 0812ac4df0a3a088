package specfuzz

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"

	"github.com/getkin/kin-openapi/openapi3"
)

// Operation is one 2xx answer of a documented operation.
type Operation struct {
	File   string // the document, e.g. runai-openapi-2.22.json
	ID     string // operationId
	Method string
	Path   string // the path template
	Status string // "200", "207", ...
	// Schema is the application/json schema of the answer; nil when the
	// answer has no JSON body.
	Schema *openapi3.SchemaRef
}

// Operations loads the documents in dir with kin-openapi (every $ref
// resolved) and returns each operation's 2xx answers, in path order.
func Operations(dir string, files ...string) ([]Operation, error) {
	var out []Operation
	for _, file := range files {
		doc, err := openapi3.NewLoader().LoadFromFile(filepath.Join(dir, file))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		for _, path := range doc.Paths.InMatchingOrder() {
			byMethod := doc.Paths.Value(path).Operations()
			for _, method := range slices.Sorted(maps.Keys(byMethod)) {
				op := byMethod[method]
				for _, status := range []string{"200", "201", "202", "204", "207"} {
					resp := op.Responses.Value(status)
					if resp == nil || resp.Value == nil {
						continue
					}
					var schema *openapi3.SchemaRef
					if mt := resp.Value.Content.Get("application/json"); mt != nil {
						schema = mt.Schema
					}
					out = append(out, Operation{File: file, ID: op.OperationID, Method: method, Path: path, Status: status, Schema: schema})
				}
			}
		}
	}
	return out, nil
}
