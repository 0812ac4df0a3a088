package modelartssim

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends/modelarts"
)

const (
	codeBadRequest = "ModelArts.50004000"
	// codeInvalidArgument is the generic "Invalid Argument." of the error
	// table, for a missing required member.
	codeInvalidArgument = "ModelArts.0101"
	codeNotFound        = "ModelArts.50015001"
	maxPoolLimit        = 500 // ListPoolNodes: limit 0..500, default 500
)

// Node-pool names: letter first, letters/digits/'-', not ending in '-'
// (the OpenAPI document's inferred rule). The seed answers 400 "invalid
// nodepool name" for others.
var nodePoolNameRE = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{0,61}[A-Za-z0-9]$`)

type listBody[T any] struct {
	APIVersion string    `json:"apiVersion"`
	Kind       string    `json:"kind"`
	Metadata   *listMeta `json:"metadata,omitempty"`
	Items      []T       `json:"items"`
}

// listMeta is NodeListMetadata: {} on the last page.
type listMeta struct {
	Continue           string `json:"continue,omitempty"`
	RemainingItemCount *int64 `json:"remainingItemCount,omitempty"`
}

func (s *Server) handleListPools(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var phases []string
	switch q.Get("status") {
	case "":
	case "created":
		phases = []string{"Running", "Abnormal"}
	case "creating":
		phases = []string{"Creating", "Waiting"}
	case "failed":
		phases = []string{"CreationFailed", "ScalingFailed", "Error"}
	default:
		writeError(w, http.StatusBadRequest, codeBadRequest, "Bad request. invalid status", false)
		return
	}
	sel, err := parseSelector(q.Get("labelSelector"))
	if err != nil {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Bad request. invalid labelSelector: "+err.Error(), false)
		return
	}
	workspace := q.Get("workspaceId")

	s.mu.RLock()
	defer s.mu.RUnlock()
	items := []modelarts.Pool{}
	for _, p := range s.fleet.pools {
		labels := p.pool.Metadata.Labels
		if phases != nil && !slices.Contains(phases, p.pool.Status.Phase) {
			continue
		}
		if workspace != "" && labels[modelarts.LabelWorkspaceID] != workspace {
			continue
		}
		if !sel.matches(labels) {
			continue
		}
		items = append(items, p.pool)
	}
	writeJSON(w, http.StatusOK, listBody[modelarts.Pool]{APIVersion: "v2", Kind: "PoolList", Items: items})
}

func (s *Server) handleShowPool(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if p := s.lookupPool(w, r); p != nil {
		writeJSON(w, http.StatusOK, p.pool)
	}
}

func (s *Server) handleListNodePools(w http.ResponseWriter, r *http.Request) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.lookupPool(w, r)
	if p == nil {
		return
	}
	items := make([]modelarts.NodePool, 0, len(p.nodePools))
	for _, np := range p.nodePools {
		items = append(items, np.np)
	}
	writeJSON(w, http.StatusOK, listBody[modelarts.NodePool]{APIVersion: "v2", Kind: "NodePoolList", Items: items})
}

func (s *Server) handleShowNodePool(w http.ResponseWriter, r *http.Request) {
	// continue/limit are documented on this call but mean nothing for one object.
	s.mu.RLock()
	defer s.mu.RUnlock()
	if _, np := s.lookupNodePool(w, r); np != nil {
		writeJSON(w, http.StatusOK, np.np)
	}
}

// handleListNodePoolNodes: limit is a digit string; absent or "0" answers
// every node in one page (terraform: "without page parameters, the service
// returns all of nodes").
func (s *Server) handleListNodePoolNodes(w http.ResponseWriter, r *http.Request) {
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || strings.TrimLeft(v, "0123456789") != "" {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Bad request. invalid limit", false)
			return
		}
		limit = n
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, np := s.lookupNodePool(w, r)
	if np == nil {
		return
	}
	name := np.np.Metadata.Name
	s.writeNodePage(w, r, "nodepool/"+p.pool.Metadata.Name+"/"+name, p.nodesOf(name), limit)
}

// handleListPoolNodes: limit is an integer 0..500, default 500; 0 means the
// default.
func (s *Server) handleListPoolNodes(w http.ResponseWriter, r *http.Request) {
	limit := maxPoolLimit
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxPoolLimit {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Bad request. limit must be an integer within 0..500", false)
			return
		}
		if n > 0 {
			limit = n
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	p := s.lookupPool(w, r)
	if p == nil {
		return
	}
	s.writeNodePage(w, r, "pool/"+p.pool.Metadata.Name, p.nodes, limit)
}

// writeNodePage answers one page of nodes. The continue token is opaque to
// clients: base64url of "<list scope>|<offset>", so a token of another list is
// rejected. An offset past the end (nodes removed meanwhile) is an empty last
// page. limit 0 = everything.
func (s *Server) writeNodePage(w http.ResponseWriter, r *http.Request, scope string, nodes []modelarts.Node, limit int) {
	offset := 0
	if tok := r.URL.Query().Get("continue"); tok != "" {
		var ok bool
		if offset, ok = decodeContinue(tok, scope); !ok {
			writeError(w, http.StatusBadRequest, codeBadRequest, "Bad request. invalid continue", false)
			return
		}
	}
	offset = min(offset, len(nodes))
	end := len(nodes)
	if limit > 0 {
		end = min(offset+limit, len(nodes))
	}
	body := listBody[modelarts.Node]{APIVersion: "v2", Kind: "NodeList", Metadata: &listMeta{}, Items: nodes[offset:end]}
	if end < len(nodes) {
		remaining := int64(len(nodes) - end)
		body.Metadata = &listMeta{Continue: encodeContinue(scope, end), RemainingItemCount: &remaining}
	}
	writeJSON(w, http.StatusOK, body)
}

func encodeContinue(scope string, offset int) string {
	return base64.RawURLEncoding.EncodeToString(fmt.Appendf(nil, "%s|%d", scope, offset))
}

func decodeContinue(tok, scope string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	sc, off, ok := strings.Cut(string(raw), "|")
	if !ok || sc != scope {
		return 0, false
	}
	n, err := strconv.Atoi(off)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// lookupPool finds {pool_name} or answers 404; the caller holds s.mu.
func (s *Server) lookupPool(w http.ResponseWriter, r *http.Request) *poolState {
	name := r.PathValue("pool_name")
	p := s.fleet.pool(name)
	if p == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("Pool %s not found.", name), false)
	}
	return p
}

// lookupNodePool finds {pool_name}/{nodepool_name} or answers 400/404; the
// caller holds s.mu.
func (s *Server) lookupNodePool(w http.ResponseWriter, r *http.Request) (*poolState, *nodePoolState) {
	name := r.PathValue("nodepool_name")
	if !nodePoolNameRE.MatchString(name) {
		writeError(w, http.StatusBadRequest, codeBadRequest, "Bad request. invalid nodepool name", false)
		return nil, nil
	}
	p := s.lookupPool(w, r)
	if p == nil {
		return nil, nil
	}
	np := p.nodePool(name)
	if np == nil {
		writeError(w, http.StatusNotFound, codeNotFound, fmt.Sprintf("Node pool %s not found.", name), false)
		return p, nil
	}
	return p, np
}

// selector is a Kubernetes equality-based label selector: "k=v", "k==v",
// "k!=v", "k" (exists), "!k" (absent), comma-separated, all must hold.
type selector []func(map[string]string) bool

func parseSelector(s string) (selector, error) {
	var sel selector
	if strings.TrimSpace(s) == "" {
		return sel, nil
	}
	for term := range strings.SplitSeq(s, ",") {
		term = strings.TrimSpace(term)
		switch {
		case term == "":
			return nil, fmt.Errorf("empty term")
		case strings.Contains(term, "!="):
			k, v, _ := strings.Cut(term, "!=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			sel = append(sel, func(l map[string]string) bool { return l[k] != v })
		case strings.Contains(term, "="):
			k, v, _ := strings.Cut(term, "=")
			k, v = strings.TrimSpace(k), strings.TrimSpace(strings.TrimPrefix(v, "="))
			if k == "" {
				return nil, fmt.Errorf("term %q has no key", term)
			}
			sel = append(sel, func(l map[string]string) bool { x, ok := l[k]; return ok && x == v })
		case strings.HasPrefix(term, "!"):
			k := strings.TrimSpace(term[1:])
			sel = append(sel, func(l map[string]string) bool { _, ok := l[k]; return !ok })
		case strings.ContainsAny(term, " ()"):
			return nil, fmt.Errorf("set-based term %q is not supported", term)
		default:
			sel = append(sel, func(l map[string]string) bool { _, ok := l[term]; return ok })
		}
	}
	return sel, nil
}

func (sel selector) matches(labels map[string]string) bool {
	for _, f := range sel {
		if !f(labels) {
			return false
		}
	}
	return true
}
