package runai

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/internal/jsonx"
)

// rawHolder is a DTO that keeps the vendor object it was decoded from.
type rawHolder[T any] interface {
	*T
	setRaw(json.RawMessage)
}

// decodeElems decodes each element and keeps its bytes in Raw. A null
// element is skipped, as are null items of lists inside an element; both
// are counted (see Client.dropNullItems).
func decodeElems[T any, P rawHolder[T]](c *Client, req request, elems []json.RawMessage) ([]T, error) {
	out := make([]T, 0, len(elems))
	nulls := 0
	for i, raw := range elems {
		if isNull(raw) {
			nulls++
			continue
		}
		raw = c.dropNullItems(req, raw)
		var v T
		if err := jsonx.Unmarshal(raw, &v); err != nil {
			return nil, fmt.Errorf("element %d: %w", i, err)
		}
		if k, ok := any(&v).(keyed); ok && k.key() == "" {
			// No identity (an empty name or id): nothing could address
			// it, and it would be a phantom like a null. Counted as one.
			nulls++
			continue
		}
		P(&v).setRaw(raw)
		out = append(out, v)
	}
	if nulls > 0 {
		c.observer.NullItems(c.name, backends.RouteKind(req.route), nulls)
	}
	return out, nil
}

// keyed is a DTO with an identity that a listing item must have.
type keyed interface{ key() string }

func (n *Node) key() string           { return n.Name }
func (c *Cluster) key() string        { return c.UUID }
func (p *LegacyNodePool) key() string { return p.Name }

// key: a pool is addressed by id and, for metrics, by name.
func (p *NodePool) key() string {
	if p.Name == "" {
		return ""
	}
	return p.ID
}

func isNull(raw json.RawMessage) bool {
	return string(bytes.TrimSpace(raw)) == "null"
}

// decodeOne decodes a single-object answer and keeps its bytes in Raw.
func decodeOne[T any, P rawHolder[T]](c *Client, req request, raw json.RawMessage) (*T, error) {
	v := new(T)
	if err := jsonx.Unmarshal(raw, v); err != nil {
		return nil, c.decodeError(req, err)
	}
	P(v).setRaw(raw)
	return v, nil
}

// listAll follows offset/limit pages of a listing whose body is
// {"<key>": [...]} until a page comes back shorter than the limit: the 2.22
// bodies carry no cursor and no total.
func listAll[T any, P rawHolder[T]](ctx context.Context, c *Client, req request, key string) ([]T, error) {
	var (
		all   []T
		first json.RawMessage // first element of the previous page
	)
	for offset := 0; ; {
		q := url.Values{}
		for k, v := range req.query {
			q[k] = v
		}
		q.Set("offset", strconv.Itoa(offset))
		q.Set("limit", strconv.Itoa(c.pageSize))
		page := req
		page.query = q
		page.items = true

		// Only key is read: the documents do not forbid other members, and
		// a newer control plane may add "next" or "total" beside the list.
		var body map[string]json.RawMessage
		if _, err := c.do(ctx, page, &body); err != nil {
			return nil, err
		}
		elems, err := pageElems(c, req, body, key)
		if err != nil {
			return nil, err
		}
		head := firstItem(elems)
		if head != nil && first != nil && bytes.Equal(head, first) {
			// A server that ignores offset would otherwise be paged forever.
			return nil, c.decodeError(req, fmt.Errorf("page at offset %d repeats the previous page: offset is not honoured", offset))
		}
		items, err := decodeElems[T, P](c, req, elems)
		if err != nil {
			return nil, c.decodeError(req, err)
		}
		all = append(all, items...)
		if len(elems) < c.pageSize || (offset == 0 && len(elems) > c.pageSize) {
			// Shorter than the limit: the last page. Longer than the limit:
			// the server ignored limit and sent everything.
			return all, nil
		}
		// Null items hold places on the server's pages: offsets count them.
		first = head
		offset += len(elems)
	}
}

// pageElems is the elements of a page's list under key (none when absent).
func pageElems(c *Client, req request, body map[string]json.RawMessage, key string) ([]json.RawMessage, error) {
	var elems []json.RawMessage
	if raw := body[key]; raw != nil {
		if err := jsonx.Unmarshal(raw, &elems); err != nil {
			return nil, c.decodeError(req, fmt.Errorf("%s: %w", key, err))
		}
	}
	return elems, nil
}

// firstItem is the first non-null element, nil when there is none.
func firstItem(elems []json.RawMessage) json.RawMessage {
	for _, e := range elems {
		if !isNull(e) {
			return e
		}
	}
	return nil
}

// count calls a .../count route and reads {"count": n}.
func (c *Client) count(ctx context.Context, req request) (int64, error) {
	var body struct {
		Count *int64 `json:"count"`
	}
	if _, err := c.do(ctx, req, &body); err != nil {
		return 0, err
	}
	if body.Count == nil {
		return 0, c.decodeError(req, fmt.Errorf("no count in the answer"))
	}
	return *body.Count, nil
}

// setList sets an explode:false array parameter: one parameter, items joined
// by commas (filterBy=name==a,status==Ready), as the API documents it.
func setList(q url.Values, name string, items []string) {
	if len(items) > 0 {
		q.Set(name, strings.Join(items, ","))
	}
}

// setString sets a parameter when v is not empty.
func setString(q url.Values, name, v string) {
	if v != "" {
		q.Set(name, v)
	}
}
