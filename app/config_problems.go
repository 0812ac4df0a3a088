package app

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// problems gathers the errors of one configuration, so that --check-config
// reports every unset variable, unknown key, wrong type and bad name of a
// file in one run instead of one per run.
type problems []error

// add keeps the non-nil errors; a problems error adds its own one by one.
func (p *problems) add(errs ...error) {
	for _, err := range errs {
		var many *configErrors
		switch {
		case err == nil:
		case errors.As(err, &many):
			*p = append(*p, many.errs...)
		default:
			*p = append(*p, err)
		}
	}
}

// err is nil, the one error, or all of them.
func (p problems) err() error {
	switch len(p) {
	case 0:
		return nil
	case 1:
		return p[0]
	}
	return &configErrors{errs: p}
}

// configErrors is several configuration problems: its message lists them,
// one a line, each naming its field and line.
type configErrors struct{ errs []error }

func (e *configErrors) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "config: %d problems:", len(e.errs))
	for _, err := range e.errs {
		b.WriteString("\n  ")
		b.WriteString(strings.TrimPrefix(err.Error(), "config: "))
	}
	return b.String()
}

func (e *configErrors) Unwrap() []error { return e.errs }

// BackendNamePattern is the rule for runai[].name and modelarts[].name: a
// backend's name is part of every ID it serves (so it must not change),
// of metric labels, cache keys and log lines, and of extensions.backend:
// 1-63 of a-z, 0-9 and '-', starting with a letter and not ending in '-'
// (a Kubernetes-style label: no spaces, no case to get wrong).
var BackendNamePattern = regexp.MustCompile(`^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$`)

// backendNames checks every backend name against BackendNamePattern
// (missing and duplicate names are Validate's).
func (c *Config) backendNames() []error {
	var errs []error
	check := func(path, name string) {
		if name != "" && !BackendNamePattern.MatchString(name) {
			errs = append(errs, fmt.Errorf("config: %s.name %q: a backend name is 1-63 of a-z, 0-9 and '-', starting with a letter and not ending in '-': it is part of every ID of the backend, of metric labels and of cache keys", path, truncate(name, 64)))
		}
	}
	for i, r := range c.RunAI {
		check(fmt.Sprintf("runai[%d]", i), r.Name)
	}
	for i, m := range c.ModelArts {
		check(fmt.Sprintf("modelarts[%d]", i), m.Name)
	}
	return errs
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// syntaxError reports a YAML syntax error at the line at fault. yaml.v3
// names the line where the enclosing block starts ("line 1: did not find
// expected '-' indicator" for a key indented one space short on line 4),
// so a line indented unlike the block it closes is named instead, with the
// indentation it has and the one its block uses. Only the key is quoted,
// never a value (it may be a secret).
func syntaxError(err error, raw []byte) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return fmt.Errorf("config: %s", yamlValue.ReplaceAllString(err.Error(), "(value not shown)"))
	}
	if line, have, want, key := misindented(raw); line > 0 {
		return fmt.Errorf("config: line %d: %s is indented by %d spaces, want %s (YAML: %s)", line, key, have, want, m[2])
	}
	return fmt.Errorf("config: line %s: %s", m[1], m[2])
}

var keyOf = regexp.MustCompile(`^([A-Za-z0-9_.-]+):(?:\s+(.*))?$`)

// misindented finds the first line whose indentation fits no block above
// it: less than the line before but equal to none of the blocks it would
// close, or deeper than a "key: value" line (a value has no children). It
// returns 0 when every line fits. Block scalars (key: | or >) are skipped.
func misindented(raw []byte) (line, have int, want, key string) {
	var stack []int // indentations of the enclosing blocks, innermost last
	prev, prevKeyCol, prevHasValue, scalarCol := -1, -1, false, -1
	for i, l := range strings.Split(string(raw), "\n") {
		t := strings.TrimLeft(l, " ")
		ind := len(l) - len(t)
		if t == "" || strings.HasPrefix(t, "#") || strings.HasPrefix(t, "---") {
			continue
		}
		if scalarCol >= 0 && ind > scalarCol {
			continue // the text of a block scalar
		}
		scalarCol = -1
		item := strings.HasPrefix(t, "- ")
		body := strings.TrimPrefix(t, "- ")
		km := keyOf.FindStringSubmatch(body)
		k := "this line"
		if km != nil {
			k = fmt.Sprintf("key %q", km[1])
		}
		switch {
		case prevHasValue && ind > prevKeyCol:
			return i + 1, ind, fmt.Sprintf("at most %d (the line above holds a value, so it has no children)", prevKeyCol), k
		case ind < prev:
			for len(stack) > 0 && stack[len(stack)-1] > ind {
				stack = stack[:len(stack)-1]
			}
			if len(stack) == 0 || stack[len(stack)-1] != ind {
				outer := 0
				if len(stack) > 0 {
					outer = stack[len(stack)-1]
				}
				return i + 1, ind, fmt.Sprintf("%d (the block above) or %d (the enclosing one)", prev, outer), k
			}
		case ind > prev:
			stack = append(stack, ind)
		}
		prev, prevKeyCol = ind, ind
		if item {
			prevKeyCol = ind + 2
			stack = append(stack, ind+2) // a "- key: v" item's keys go on at its column
		}
		v := ""
		if km != nil {
			v = strings.TrimSpace(km[2])
		}
		prevHasValue = v != "" && !strings.ContainsAny(v[:1], "#|>[{&!*")
		if v != "" && strings.ContainsAny(v[:1], "|>") {
			scalarCol = prevKeyCol
		}
	}
	return 0, 0, "", ""
}
