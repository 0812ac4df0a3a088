package app

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// loadAllowList reads the allow-list: a JSON object {"<sha256 hex of
// document>": "<document>"} (the format of Relay's persisted-queries.json
// with SHA-256 ids), every key the hash of its document; or Apollo's
// persisted-query manifest (what @apollo/generate-persisted-query-manifest
// writes, and Apollo clients send ids of):
//
//	{"format": "apollo-persisted-query-manifest", "version": 1,
//	 "operations": [{"id": "...", "body": "...", "name": "...", "type": "query"}]}
//
// A manifest id is whatever the client tooling chose (by default the
// SHA-256 of the body); a document sent whole is matched by its hash.
func loadAllowList(path string) (map[string]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var head struct {
		Format any `json:"format"`
	}
	if json.Unmarshal(raw, &head) == nil && head.Format != nil {
		return loadManifest(path, raw)
	}
	var docs map[string]string
	if err := json.Unmarshal(raw, &docs); err != nil {
		return nil, fmt.Errorf("%s: want a JSON object {\"<sha256>\": \"<document>\"} or an Apollo persisted-query manifest: %w", path, err)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%s lists no operations: every request would be refused", path)
	}
	out := make(map[string]string, len(docs))
	for h, doc := range docs {
		if got := documentHash(doc); got != strings.ToLower(h) {
			return nil, fmt.Errorf("%s: key %.16s… is not the SHA-256 of its document (that is %s)", path, h, got)
		}
		out[strings.ToLower(h)] = doc
	}
	return out, nil
}

// apolloManifestFormat is the format member of Apollo's manifest.
const apolloManifestFormat = "apollo-persisted-query-manifest"

func loadManifest(path string, raw []byte) (map[string]string, error) {
	var m struct {
		Format     string `json:"format"`
		Version    int    `json:"version"`
		Operations []struct {
			ID   string `json:"id"`
			Body string `json:"body"`
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"operations"`
	}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%s: not an Apollo persisted-query manifest: %w", path, err)
	}
	if m.Format != apolloManifestFormat || m.Version != 1 {
		return nil, fmt.Errorf("%s: format %.40q version %d: want {\"format\": %q, \"version\": 1, ...}", path, m.Format, m.Version, apolloManifestFormat)
	}
	if len(m.Operations) == 0 {
		return nil, fmt.Errorf("%s lists no operations: every request would be refused", path)
	}
	out := make(map[string]string, 2*len(m.Operations))
	for i, op := range m.Operations {
		switch {
		case op.ID == "" || op.Body == "":
			return nil, fmt.Errorf("%s: operations[%d] needs an id and a body", path, i)
		case op.Type != "query" && op.Type != "mutation" && op.Type != "subscription":
			return nil, fmt.Errorf("%s: operations[%d].type %.20q: want query, mutation or subscription", path, i, op.Type)
		}
		id := strings.ToLower(op.ID)
		if prev, dup := out[id]; dup && prev != op.Body {
			return nil, fmt.Errorf("%s: operations[%d]: id %.16s… names two different documents", path, i, op.ID)
		}
		out[id] = op.Body
		out[documentHash(op.Body)] = op.Body
	}
	return out, nil
}

func documentHash(doc string) string {
	sum := sha256.Sum256([]byte(doc))
	return hex.EncodeToString(sum[:])
}

// allowList runs only known documents. A client sends the document, or only
// its hash the way Apollo's persisted queries do:
// {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": "..."}}}.
// Automatic persisted queries are off in this mode: they would let a client
// register any document.
type allowList struct{ docs map[string]string }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationParameterMutator
} = allowList{}

func (allowList) ExtensionName() string                   { return "AllowList" }
func (allowList) Validate(graphql.ExecutableSchema) error { return nil }

func (a allowList) MutateOperationParameters(_ context.Context, p *graphql.RawParams) *gqlerror.Error {
	hash := persistedHash(p.Extensions)
	if p.Query == "" && hash != "" {
		doc, ok := a.docs[strings.ToLower(hash)]
		if !ok {
			return notAllowed("no allowed operation has hash " + hash)
		}
		p.Query = doc
		return nil
	}
	if _, ok := a.docs[documentHash(p.Query)]; !ok {
		return notAllowed("this gateway runs only allow-listed operations, and this document is not one of them")
	}
	return nil
}

func notAllowed(msg string) *gqlerror.Error {
	return &gqlerror.Error{Message: msg, Extensions: map[string]any{"code": errcodes.OperationNotAllowed}}
}

// persistedHash is extensions.persistedQuery.sha256Hash, or "".
func persistedHash(ext map[string]any) string {
	pq, _ := ext["persistedQuery"].(map[string]any)
	h, _ := pq["sha256Hash"].(string)
	return h
}

// errNoQuery: a request with neither a document nor a persisted-query hash.
var errNoQuery = errors.New("the request has no query: send {\"query\": \"...\"} (or a persisted query hash in extensions.persistedQuery)")
