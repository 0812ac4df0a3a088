// Package accel is the accelerator catalogue: it maps the vendors' GPU and NPU
// type strings (Run:ai gpuType, ModelArts flavors and accelerator resource
// names) onto one vendor + model, so that a V100 is a V100 on either vendor.
// The mapping is data, accelerators.yaml beside this file (embedded); this
// package only loads and applies it.
package accel

import (
	"bytes"
	_ "embed"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

// Unknown is the vendor and model of a string no rule matches (and the model
// of a rule that knows the vendor only).
const Unknown = "UNKNOWN"

// Info is what the catalogue says of one type string.
type Info struct {
	Vendor string
	Model  string
	// MemoryBytes is per device; nil where the catalogue does not say.
	MemoryBytes *float64
}

// Catalogue is a loaded mapping table. It is read-only once loaded.
type Catalogue struct {
	exact    map[string]Info // by lower-cased name
	patterns []pattern
	models   []string // sorted, Unknown included
	vendors  []string // sorted, Unknown included
}

type pattern struct {
	re   *regexp.Regexp
	info Info
}

type rule struct {
	Names       []string `yaml:"names"`
	Pattern     string   `yaml:"pattern"`
	Vendor      string   `yaml:"vendor"`
	Model       string   `yaml:"model"`
	MemoryBytes *float64 `yaml:"memoryBytes"`
}

var upperName = regexp.MustCompile(`^[A-Z][A-Z0-9_]*$`)

// Parse loads a table in the accelerators.yaml format. It refuses unknown
// keys, a rule with both or neither of names and pattern, a pattern that
// does not compile, a name listed twice, and vendor or model values that
// are not upper-case identifiers.
func Parse(data []byte) (*Catalogue, error) {
	var doc struct {
		Accelerators []rule `yaml:"accelerators"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("accelerator table: %w", err)
	}
	c := &Catalogue{exact: map[string]Info{}}
	models, vendors := map[string]bool{Unknown: true}, map[string]bool{Unknown: true}
	for i, r := range doc.Accelerators {
		where := fmt.Sprintf("accelerator table rule %d", i+1)
		if !upperName.MatchString(r.Vendor) || !upperName.MatchString(r.Model) {
			return nil, fmt.Errorf("%s: vendor %q and model %q must be upper-case identifiers", where, r.Vendor, r.Model)
		}
		if r.MemoryBytes != nil && *r.MemoryBytes <= 0 {
			return nil, fmt.Errorf("%s: memoryBytes must be positive", where)
		}
		info := Info{Vendor: r.Vendor, Model: r.Model, MemoryBytes: r.MemoryBytes}
		switch {
		case len(r.Names) > 0 && r.Pattern == "", len(r.Names) == 0 && r.Pattern != "":
		default:
			return nil, fmt.Errorf("%s: give either names or a pattern", where)
		}
		for _, n := range r.Names {
			key := strings.ToLower(strings.TrimSpace(n))
			if key == "" {
				return nil, fmt.Errorf("%s: empty name", where)
			}
			if _, dup := c.exact[key]; dup {
				return nil, fmt.Errorf("%s: %q is listed twice", where, n)
			}
			c.exact[key] = info
		}
		if r.Pattern != "" {
			re, err := regexp.Compile("(?i)" + r.Pattern)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", where, err)
			}
			c.patterns = append(c.patterns, pattern{re: re, info: info})
		}
		models[r.Model], vendors[r.Vendor] = true, true
	}
	for m := range models {
		c.models = append(c.models, m)
	}
	for v := range vendors {
		c.vendors = append(c.vendors, v)
	}
	slices.Sort(c.models)
	slices.Sort(c.vendors)
	return c, nil
}

// Lookup maps a vendor type string: an exact name first, then the patterns
// in table order; Unknown/Unknown when nothing matches.
func (c *Catalogue) Lookup(raw string) Info {
	s := strings.TrimSpace(raw)
	if info, ok := c.exact[strings.ToLower(s)]; ok {
		return info
	}
	for _, p := range c.patterns {
		if p.re.MatchString(s) {
			return p.info
		}
	}
	return Info{Vendor: Unknown, Model: Unknown}
}

// Models are the model values the table can give, sorted (Unknown included).
func (c *Catalogue) Models() []string { return slices.Clone(c.models) }

// Vendors are the vendor values the table can give, sorted (Unknown included).
func (c *Catalogue) Vendors() []string { return slices.Clone(c.vendors) }

// KnownModel returns the table's spelling of model (matched without regard
// to case) and whether there is one.
func (c *Catalogue) KnownModel(model string) (string, bool) { return known(c.models, model) }

// KnownVendor is KnownModel for vendors.
func (c *Catalogue) KnownVendor(vendor string) (string, bool) { return known(c.vendors, vendor) }

func known(list []string, v string) (string, bool) {
	up := strings.ToUpper(strings.TrimSpace(v))
	if _, ok := slices.BinarySearch(list, up); ok {
		return up, true
	}
	return "", false
}

//go:embed accelerators.yaml
var table []byte

// Default returns the embedded table. It panics if the table does not load:
// the table is part of the source, and its test fails first.
var Default = sync.OnceValue(func() *Catalogue {
	c, err := Parse(table)
	if err != nil {
		panic(err)
	}
	return c
})
