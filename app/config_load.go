package app

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// EnvPrefix starts every environment override: FLEETGRAPH_ + the field's
// path in upper case joined by "_", e.g. FLEETGRAPH_LIMITS_MAXDEPTH=8,
// FLEETGRAPH_REDIS_URL, FLEETGRAPH_CORS_ALLOWEDORIGINS=https://a,https://b.
// Lists of backends and API keys have no overrides: use ${VAR} in the file.
const EnvPrefix = "FLEETGRAPH_"

// LoadConfig reads, completes and validates a configuration file, with the
// process environment for ${VAR} references and FLEETGRAPH_* overrides.
func LoadConfig(path string) (*Config, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return ParseConfigEnv(raw, os.Environ())
}

// ParseConfig parses and validates YAML configuration against the process
// environment.
func ParseConfig(raw []byte) (*Config, error) { return ParseConfigEnv(raw, os.Environ()) }

// ParseConfigEnv parses YAML configuration with environ ("KEY=value" pairs)
// standing for the environment: ${VAR} in values (never in comments) is
// replaced, an unset VAR is an error; FLEETGRAPH_* overrides are applied;
// unknown keys are errors naming their path; *File secrets are read.
// Every error names the field at fault as its path in the file
// ("limits.maxDepth", "runai[1].clientSecretFile") and its line; the
// problems of a file are reported together (every unset variable, unknown
// key, wrongly typed value and backend name), so one run shows them all.
func ParseConfigEnv(raw []byte, environ []string) (*Config, error) {
	env := envMap(environ)
	var doc yaml.Node
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		return nil, syntaxError(err, raw)
	}
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		root = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config: line %d: the file must be a mapping of keys (listen:, runai:, ...)", root.Line)
	}
	var p problems
	expandNode(root, "", env, &p)
	p.add(applyEnv(root, env))
	lines := map[int]string{}
	checkKeys(root, reflect.TypeFor[Config](), "", lines, &p)
	var c Config
	if err := root.Decode(&c); err != nil {
		p.add(withPath(err, lines))
	}
	p.add(c.backendNames()...)
	if err := p.err(); err != nil {
		// Validation would only repeat these (an unset secret is also a
		// missing one): the file's own problems first.
		return nil, err
	}
	if err := c.readFiles(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// ApplyEnv applies FLEETGRAPH_* overrides from environ to a configuration
// built in code (demo mode).
func (c *Config) ApplyEnv(environ []string) error {
	root := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	if err := applyEnv(root, envMap(environ)); err != nil {
		return err
	}
	if len(root.Content) == 0 {
		return nil
	}
	lines := map[int]string{}
	var p problems
	checkKeys(root, reflect.TypeFor[Config](), "", lines, &p)
	if err := root.Decode(c); err != nil {
		p.add(withPath(err, lines))
	}
	return p.err()
}

func envMap(environ []string) map[string]string {
	m := make(map[string]string, len(environ))
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			m[k] = v
		}
	}
	return m
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// aomQueryPath is where no variable is expanded: the PromQL of
// modelarts[].aom.queries.
var aomQueryPath = regexp.MustCompile(`^modelarts\[\d+\]\.aom\.queries\.[^.]+$`)

// expandNode replaces ${VAR} and $VAR in scalar values (not in
// modelarts[].aom.queries); every unset variable is a problem.
func expandNode(n *yaml.Node, path string, env map[string]string, p *problems) {
	switch n.Kind {
	case yaml.ScalarNode:
		if aomQueryPath.MatchString(path) {
			return // PromQL templates: $node_label and $nodes are aom's placeholders, not variables
		}
		n.Value = envRef.ReplaceAllStringFunc(n.Value, func(ref string) string {
			m := envRef.FindStringSubmatch(ref)
			name := m[1] + m[2]
			v, ok := env[name]
			if !ok {
				p.add(fmt.Errorf("config: %s: environment variable %s is not set (line %d)", orRoot(path), name, n.Line))
			}
			return v
		})
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			expandNode(n.Content[i+1], join(path, n.Content[i].Value), env, p)
		}
	case yaml.SequenceNode:
		for i, item := range n.Content {
			expandNode(item, fmt.Sprintf("%s[%d]", path, i), env, p)
		}
	}
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func orRoot(path string) string {
	if path == "" {
		return "(top level)"
	}
	return path
}

// envField is one field an environment variable may override.
type envField struct {
	path []string
	list bool // a []string: comma-separated
}

// envFields lists the overridable fields of t: scalars and string lists in
// nested structs, not lists of structs or optional sub-structs.
func envFields(t reflect.Type, prefix []string, out map[string]envField) {
	for f := range t.Fields() {
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if key == "" || key == "-" {
			continue
		}
		path := append(slices.Clip(prefix), key)
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct:
			envFields(ft, path, out)
			continue
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.String:
			out[EnvPrefix+strings.ToUpper(strings.Join(path, "_"))] = envField{path: path, list: true}
			continue
		case ft.Kind() == reflect.Slice, ft.Kind() == reflect.Pointer && ft.Elem().Kind() == reflect.Struct:
			continue
		}
		out[EnvPrefix+strings.ToUpper(strings.Join(path, "_"))] = envField{path: path}
	}
}

// EnvVariables lists every FLEETGRAPH_* variable with the field it sets.
func EnvVariables() map[string]string {
	fields := map[string]envField{}
	envFields(reflect.TypeFor[Config](), nil, fields)
	out := make(map[string]string, len(fields))
	for k, f := range fields {
		out[k] = strings.Join(f.path, ".")
	}
	return out
}

func applyEnv(root *yaml.Node, env map[string]string) error {
	fields := map[string]envField{}
	envFields(reflect.TypeFor[Config](), nil, fields)
	names := make([]string, 0)
	for k := range env {
		if strings.HasPrefix(k, EnvPrefix) {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	var p problems
	for _, name := range names {
		f, ok := fields[name]
		if !ok {
			p.add(fmt.Errorf("config: environment variable %s names no configuration field (overridable: top-level and nested fields, e.g. FLEETGRAPH_LISTEN, FLEETGRAPH_LIMITS_MAXDEPTH)", name))
			continue
		}
		val := &yaml.Node{Kind: yaml.ScalarNode, Value: env[name], Line: 0}
		if f.list {
			val = &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
			for item := range strings.SplitSeq(env[name], ",") {
				if item = strings.TrimSpace(item); item != "" {
					val.Content = append(val.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: item})
				}
			}
		}
		if err := setPath(root, f.path, val); err != nil {
			p.add(fmt.Errorf("config: %s (%s): %w", name, strings.Join(f.path, "."), err))
		}
	}
	return p.err()
}

// setPath sets the value at path in a mapping node, creating mappings on
// the way.
func setPath(n *yaml.Node, path []string, val *yaml.Node) error {
	for i, key := range path {
		if n.Kind != yaml.MappingNode {
			return errors.New("the file has a non-mapping value on the way")
		}
		var next *yaml.Node
		for j := 0; j+1 < len(n.Content); j += 2 {
			if n.Content[j].Value == key {
				next = n.Content[j+1]
				if i == len(path)-1 {
					n.Content[j+1] = val
					return nil
				}
			}
		}
		if next == nil {
			if i == len(path)-1 {
				next = val
			} else {
				next = &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			}
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: key}, next)
		}
		n = next
	}
	return nil
}

// checkKeys reports every unknown key with its path and the keys that
// would be known there, and records the path of every line for withPath.
func checkKeys(n *yaml.Node, t reflect.Type, path string, lines map[int]string, p *problems) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Line > 0 && path != "" {
		if _, seen := lines[n.Line]; !seen || n.Kind == yaml.ScalarNode {
			lines[n.Line] = path
		}
	}
	switch {
	case n.Kind == yaml.MappingNode && t.Kind() == reflect.Struct:
		known := map[string]reflect.Type{}
		var names []string
		for f := range t.Fields() {
			key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
			if key != "" && key != "-" {
				known[key] = f.Type
				names = append(names, key)
			}
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := known[k.Value]
			if !ok {
				p.add(fmt.Errorf("config: %s: unknown key (line %d); known keys here: %s", join(path, k.Value), k.Line, strings.Join(names, ", ")))
				continue
			}
			lines[k.Line] = join(path, k.Value)
			checkKeys(n.Content[i+1], ft, join(path, k.Value), lines, p)
		}
	case n.Kind == yaml.SequenceNode && t.Kind() == reflect.Slice:
		for i, item := range n.Content {
			checkKeys(item, t.Elem(), fmt.Sprintf("%s[%d]", path, i), lines, p)
		}
	}
}

var lineRef = regexp.MustCompile(`(?s)^(?:yaml: unmarshal errors:\s*)?line (\d+): (.*)$`)

// yamlValue is a value quoted in a yaml.v3 error ("cannot unmarshal !!str
// `...` into int"): it may be a secret substituted into the wrong field.
var yamlValue = regexp.MustCompile("`[^`]*`")

// typeMismatch is yaml.v3's wording of a wrongly typed value.
var typeMismatch = regexp.MustCompile(`^cannot unmarshal (!!\w+)(?: \(value not shown\))? into (.+)$`)

// withPath names the field of every yaml decoding error by its path and
// line, with the type it wants and the kind of value it got, never the
// value ("limits.maxDepth: wants an integer, got text (line 6)").
func withPath(err error, lines map[int]string) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		// A custom unmarshaler's error (a Duration's) fails the decode
		// alone; it says its line too.
		return located(yamlValue.ReplaceAllString(err.Error(), "(value not shown)"), lines)
	}
	var p problems
	for _, e := range te.Errors {
		p.add(located(yamlValue.ReplaceAllString(e, "(value not shown)"), lines))
	}
	return p.err()
}

// located turns "line N: what" into "path: what (line N)", the line's
// field by its path; an environment override's value has line 0.
func located(msg string, lines map[int]string) error {
	m := lineRef.FindStringSubmatch(msg)
	if m == nil {
		return fmt.Errorf("config: %s", msg)
	}
	n, _ := strconv.Atoi(m[1])
	what := m[2]
	if t := typeMismatch.FindStringSubmatch(what); t != nil {
		what = fmt.Sprintf("wants %s, got %s", goTypeWords(t[2]), yamlTagWords(t[1]))
	}
	switch path, ok := lines[n]; {
	case ok && n == 0:
		return fmt.Errorf("config: %s (environment override): %s", path, what)
	case n == 0:
		return fmt.Errorf("config: environment override: %s", what)
	case ok:
		return fmt.Errorf("config: %s: %s (line %d)", path, what, n)
	}
	return fmt.Errorf("config: line %d: %s", n, what)
}

// goTypeWords says what a configuration field of Go type t takes.
func goTypeWords(t string) string {
	switch {
	case strings.HasPrefix(t, "[]"):
		return "a list"
	case strings.HasPrefix(t, "map["), strings.HasPrefix(t, "app."):
		return "a mapping of keys"
	case strings.HasPrefix(t, "int"), strings.HasPrefix(t, "uint"):
		return "an integer"
	case strings.HasPrefix(t, "float"):
		return "a number"
	case t == "bool":
		return "true or false"
	case t == "string":
		return "a string"
	}
	return t
}

// yamlTagWords says what kind of YAML value a tag is.
func yamlTagWords(tag string) string {
	switch tag {
	case "!!str":
		return "text"
	case "!!int":
		return "an integer"
	case "!!float":
		return "a number"
	case "!!bool":
		return "true or false"
	case "!!seq":
		return "a list"
	case "!!map":
		return "a mapping"
	case "!!null":
		return "nothing"
	}
	return tag
}

// readFiles fills secrets from their *File twins and checks the allow-list.
func (c *Config) readFiles() error {
	read := func(path string, val *string, file string) error {
		if file == "" {
			return nil
		}
		if *val != "" {
			return fmt.Errorf("config: %s: set the secret or its file, not both", path)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("config: %s: %w", path, err)
		}
		*val = strings.TrimRight(string(b), "\r\n")
		if *val == "" {
			return fmt.Errorf("config: %s: %s is empty", path, file)
		}
		return nil
	}
	for i := range c.RunAI {
		r := &c.RunAI[i]
		if err := read(fmt.Sprintf("runai[%d].clientSecretFile", i), &r.ClientSecret, r.ClientSecretFile); err != nil {
			return err
		}
	}
	for i := range c.ModelArts {
		m := &c.ModelArts[i]
		if err := read(fmt.Sprintf("modelarts[%d].tokenFile", i), &m.Token, m.TokenFile); err != nil {
			return err
		}
		if err := read(fmt.Sprintf("modelarts[%d].secretKeyFile", i), &m.SecretKey, m.SecretKeyFile); err != nil {
			return err
		}
		if m.IAM != nil {
			if err := read(fmt.Sprintf("modelarts[%d].iam.passwordFile", i), &m.IAM.Password, m.IAM.PasswordFile); err != nil {
				return err
			}
		}
	}
	if err := read("redis.passwordFile", &c.Redis.Password, c.Redis.PasswordFile); err != nil {
		return err
	}
	if c.GraphQL.AllowList != "" {
		if _, err := loadAllowList(c.GraphQL.AllowList); err != nil {
			return fmt.Errorf("config: graphql.allowList: %w", err)
		}
	}
	return nil
}

// LogValue is what a log line shows of a configuration: its shape, never a
// secret.
func (c *Config) LogValue() slog.Value {
	var names []string
	for _, r := range c.RunAI {
		names = append(names, r.Name)
	}
	for _, m := range c.ModelArts {
		names = append(names, m.Name)
	}
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.Any("backends", names),
		slog.String("auth", c.AuthMode()),
		slog.Int("apiKeys", len(c.Auth.APIKeys)),
		slog.Bool("redis", c.Redis.URL != "" || len(c.Redis.Addrs) > 0),
		slog.Bool("tracing", c.Tracing.Endpoint != ""),
	)
}
