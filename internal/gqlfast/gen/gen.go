// Package gen is the gqlgen plugin behind internal/gqlfast: it finds the
// lists of objects that gqlfast can marshal faster, writes their fast
// marshalers into the executor package, and afterwards (Rewrite) points
// gqlgen's generated list marshalers at them.
package gen

import (
	"bytes"
	"fmt"
	"go/format"
	"go/types"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/99designs/gqlgen/codegen"
	"github.com/99designs/gqlgen/codegen/config"
	"github.com/vektah/gqlparser/v2/ast"
)

// File is the name of the file the plugin writes next to gqlgen's exec files.
const File = "gqlfast_gen.go"

// Plugin is the gqlgen plugin; run api.Generate with it, then Rewrite.
type Plugin struct {
	dir     string
	fast    map[string]string // list marshal func -> fast func
	inOrder map[string]bool   // list marshal funcs to marshal sequentially
}

// New returns the plugin.
func New() *Plugin { return &Plugin{} }

// Name implements plugin.Plugin.
func (p *Plugin) Name() string { return "gqlfast" }

// scalar maps gqlgen's built-in marshalers to the gqlfast.List method that
// writes the same bytes, for the Go type each one takes.
var scalar = map[string]struct{ goType, method string }{
	"MarshalTime":         {"time.Time", "Time"},
	"MarshalFloatContext": {"float64", "Float"},
	"MarshalInt":          {"int", "Int"},
	"MarshalBoolean":      {"bool", "Bool"},
	"MarshalString":       {"string", "String"},
}

// plainField returns how gqlfast writes a field, or false when it
// cannot: a field read from a struct field, with no resolver, arguments or
// directives, that is a non-null built-in scalar (its gqlfast.List
// method) or a non-null list of non-null plain objects (their writer).
func plainField(data *codegen.Data, f *codegen.Field, seen map[string]bool) (fastField, bool) {
	ref := f.TypeReference
	if f.IsResolver || f.MethodHasContext || len(f.Args) > 0 || runtimeDirectives(f.Directives) ||
		f.GoFieldType != codegen.GoFieldVariable || ref == nil || !ref.GQL.NonNull || ref.CastType != nil {
		return fastField{}, false
	}
	field := fastField{Name: f.Name, GoField: f.GoFieldName}
	if ref.GQL.Elem != nil {
		if !ref.GQL.Elem.NonNull || ref.GQL.Elem.Elem != nil || !ref.IsSlice() || ref.Definition.Kind != ast.Object {
			return fastField{}, false
		}
		o := data.Objects.ByName(ref.Definition.Name)
		w, ok := writerOf(data, o, ref, seen)
		if !ok {
			return fastField{}, false
		}
		field.Writer, field.Implementors, field.sub = w.Name, w.Implementors, w
		return field, true
	}
	if ref.Marshaler == nil || ref.Marshaler.Pkg() == nil || ref.Marshaler.Pkg().Path() != "github.com/99designs/gqlgen/graphql" {
		return fastField{}, false
	}
	s, ok := scalar[ref.Marshaler.Name()]
	if !ok || types.TypeString(ref.GO, nil) != s.goType {
		return fastField{}, false
	}
	field.Method = s.method
	return field, true
}

// runtimeDirectives reports whether any of ds runs at execution: a
// skip_runtime directive (the cost directives, read only by routers and the
// cost estimate) generates no code around the field.
func runtimeDirectives(ds []*codegen.Directive) bool {
	for _, d := range ds {
		if !d.SkipRuntime {
			return true
		}
	}
	return false
}

// writerOf returns the writer of a list of o (Go type ref), or false when
// o is not plain: every field a plainField, and no list under it of an
// object it is inside of.
func writerOf(data *codegen.Data, o *codegen.Object, ref *config.TypeReference, seen map[string]bool) (*writer, bool) {
	if o == nil || o.Root || o.Stream || runtimeDirectives(o.Directives) || len(o.Fields) == 0 || seen[o.Name] {
		return nil, false
	}
	elem := ref.Elem()
	_, ptr := elem.GO.(*types.Pointer)
	named, ok := elem.Target.(*types.Named)
	if !ok {
		return nil, false
	}
	w := &writer{Object: o.Name, Implementors: lcFirst(o.Name) + "Implementors", Ptr: ptr,
		Name: "fastWrite" + o.Name, ElemType: named.Obj().Name()}
	if !ptr {
		w.Name += "Value"
	}
	if pkg := named.Obj().Pkg(); pkg.Path() != data.Config.Exec.ImportPath() {
		w.ElemType = pkg.Name() + "." + w.ElemType
		w.Import = pkg.Path()
	}
	seen[o.Name] = true
	defer delete(seen, o.Name)
	for _, f := range o.Fields {
		field, ok := plainField(data, f, seen)
		if !ok {
			return nil, false
		}
		w.Fields = append(w.Fields, field)
	}
	return w, true
}

// neverWaits reports whether marshalling o never waits on a resolver: o
// and every object under it have no concurrent field. (gqlgen runs an
// object's concurrent fields in goroutines and waits for them before the
// object is done, so a list of objects that only contain such an object
// must stay concurrent, or its elements' resolvers would run one by one.)
// Interfaces and unions count as waiting.
func neverWaits(data *codegen.Data, o *codegen.Object, seen map[string]bool) bool {
	if o == nil || o.IsConcurrent() {
		return false
	}
	if seen[o.Name] {
		return true
	}
	seen[o.Name] = true
	for _, f := range o.Fields {
		def := data.Schema.Types[f.Type.Name()]
		switch {
		case def == nil || def.IsLeafType():
		case def.Kind == ast.Object:
			if !neverWaits(data, data.Objects.ByName(def.Name), seen) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// writer is the generated function that writes a list of one plain
// object's Go type into a gqlfast.List.
type writer struct {
	Name, Object, Implementors, ElemType, Import string
	Ptr                                          bool
	Fields                                       []fastField
}

// fastField is one field of a plain object: a scalar written by its
// gqlfast.List Method, or a list of plain objects written by Writer.
type fastField struct {
	Name, GoField, Method, Writer, Implementors string
	sub                                         *writer
}

// fastList is a list marshaler of gqlgen's that first tries Writer.
type fastList struct {
	Func, Fast string
	Writer     *writer
}

// GenerateCode implements plugin.CodeGenerator. gqlgen calls it before it
// writes the executor, so it only writes gqlfast's file and remembers what
// Rewrite has to change.
func (p *Plugin) GenerateCode(data *codegen.Data) error {
	p.dir = data.Config.Exec.Dir()
	p.fast, p.inOrder = map[string]string{}, map[string]bool{}
	var lists []fastList
	writers := map[string]*writer{}
	for _, ref := range data.ReferencedTypes {
		if !ref.IsSlice() || ref.GQL.Elem == nil || ref.GQL.Elem.Elem != nil || ref.Definition.Kind != ast.Object {
			continue
		}
		o := data.Objects.ByName(ref.Definition.Name)
		if !neverWaits(data, o, map[string]bool{}) {
			continue
		}
		p.inOrder[ref.MarshalFunc()] = true
		w, ok := writerOf(data, o, ref, map[string]bool{})
		if !ok {
			continue
		}
		collectWriters(w, writers)
		l := fastList{Func: ref.MarshalFunc(), Fast: "fast" + strings.TrimPrefix(ref.MarshalFunc(), "marshal"), Writer: w}
		p.fast[l.Func] = l.Fast
		lists = append(lists, l)
	}
	sort.Slice(lists, func(i, j int) bool { return lists[i].Func < lists[j].Func })
	return p.write(data.Config, lists, writers)
}

// collectWriters adds w and the writers of the lists under it to ws.
func collectWriters(w *writer, ws map[string]*writer) {
	if ws[w.Name] != nil {
		return
	}
	ws[w.Name] = w
	for _, f := range w.Fields {
		if f.sub != nil {
			collectWriters(f.sub, ws)
		}
	}
}

func (p *Plugin) write(cfg *config.Config, lists []fastList, writers map[string]*writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "// Code generated by internal/cmd/gqlgen (internal/gqlfast/gen), DO NOT EDIT.\n\npackage %s\n\n", cfg.Exec.Package)
	b.WriteString("import (\n\t\"context\"\n\n\t\"github.com/99designs/gqlgen/graphql\"\n\t\"github.com/fleetgraph/fleetgraph/internal/gqlfast\"\n\t\"github.com/vektah/gqlparser/v2/ast\"\n")
	imports := map[string]bool{}
	for _, w := range writers {
		if w.Import != "" {
			imports[w.Import] = true
		}
	}
	for _, path := range sortedKeys(imports) {
		fmt.Fprintf(&b, "\t%q\n", path)
	}
	b.WriteString(")\n\n")
	b.WriteString("// marshalSliceSequential marshals a list of objects that never wait (no\n// resolver, no context method) in order, without a goroutine per element.\n")
	b.WriteString("var marshalSliceSequential = gqlfast.MarshalSliceSequential\n")
	b.WriteString("\n// memoArgs computes a field's arguments once per operation (gqlfast.Args).\n")
	b.WriteString("func (ec *executionContext) memoArgs(ctx context.Context, field graphql.CollectedField, args func(context.Context, map[string]any) (map[string]any, error)) (map[string]any, error) {\n")
	b.WriteString("\treturn gqlfast.Args(ctx, ec.Variables, field, args)\n}\n")
	b.WriteString("\n// marshalResponse writes a query's payload into a buffer sized by its\n// operation's last answer (gqlfast.MarshalResponse).\n")
	b.WriteString("func marshalResponse(oc *graphql.OperationContext, data graphql.Marshaler) []byte {\n")
	b.WriteString("\treturn gqlfast.MarshalResponse(oc.RawQuery, oc.OperationName, data)\n}\n")
	for _, l := range lists {
		w := l.Writer
		fmt.Fprintf(&b, "\n// %s writes a list of %s (plain objects) in one pass,\n// when the response is written. nil: let gqlgen's own marshaler do it.\n", l.Fast, w.Object)
		fmt.Fprintf(&b, "func (ec *executionContext) %s(_ context.Context, sel ast.SelectionSet, v []%s) graphql.Marshaler {\n", l.Fast, w.elem())
		fmt.Fprintf(&b, "\tif v == nil {\n\t\treturn nil\n\t}\n\tp := gqlfast.NewPlan(graphql.CollectFields(ec.OperationContext, sel, %s))\n", w.Implementors)
		fmt.Fprintf(&b, "\tif p == nil || !ec.%s(p, v) {\n\t\treturn nil\n\t}\n", w.check())
		fmt.Fprintf(&b, "\treturn gqlfast.Lazy(func(l *gqlfast.List) { ec.%s(l, p, v) })\n}\n", w.Name)
	}
	for _, name := range sortedKeys(writers) {
		writeCheck(&b, writers[name])
		writeWriter(&b, writers[name])
	}
	src, err := format.Source(b.Bytes())
	if err != nil {
		return fmt.Errorf("gqlfast: format: %w\n%s", err, b.String())
	}
	return os.WriteFile(filepath.Join(p.dir, File), src, 0o644)
}

// writeCheck writes w's check: whether every value of a list, at every
// depth, can be written as gqlgen would write it (no nil element, no zero
// time, no NaN, no deferred field), collecting the plans of the lists
// under it on the way.
func writeCheck(b *bytes.Buffer, w *writer) {
	fmt.Fprintf(b, "\n// %s reports whether %s can write v by plan p.\n", w.check(), w.Name)
	fmt.Fprintf(b, "func (ec *executionContext) %s(p *gqlfast.Plan, v []%s) bool {\n\tfor _, obj := range v {\n", w.check(), w.elem())
	if w.Ptr {
		b.WriteString("\t\tif obj == nil {\n\t\t\treturn false\n\t\t}\n")
	}
	index := "_"
	for _, f := range w.Fields {
		if f.sub != nil {
			index = "j"
		}
	}
	fmt.Fprintf(b, "\t\tfor %s, field := range p.Fields {\n\t\t\tswitch field.Name {\n\t\t\tcase \"__typename\":\n", index)
	for _, f := range w.Fields {
		switch {
		case f.sub != nil:
			fmt.Fprintf(b, "\t\t\tcase %q:\n\t\t\t\tif sub := p.Sub(j, ec.OperationContext, %s); sub == nil || !ec.%s(sub, obj.%s) {\n\t\t\t\t\treturn false\n\t\t\t\t}\n", f.Name, f.Implementors, f.sub.check(), f.GoField)
		case f.Method == "Time" || f.Method == "Float":
			fmt.Fprintf(b, "\t\t\tcase %q:\n\t\t\t\tif !gqlfast.%sOK(obj.%s) {\n\t\t\t\t\treturn false\n\t\t\t\t}\n", f.Name, f.Method, f.GoField)
		default:
			fmt.Fprintf(b, "\t\t\tcase %q:\n", f.Name)
		}
	}
	b.WriteString("\t\t\tdefault:\n\t\t\t\treturn false\n\t\t\t}\n\t\t}\n\t}\n\treturn true\n}\n")
}

// writeWriter writes w itself, for values its check accepted.
func writeWriter(b *bytes.Buffer, w *writer) {
	fmt.Fprintf(b, "\n// %s writes v, a list of %s that %s accepted,\n// into l by plan p. A nil v is written [], as gqlgen writes a non-null\n// list field's nil slice.\n", w.Name, w.Object, w.check())
	fmt.Fprintf(b, "func (ec *executionContext) %s(l *gqlfast.List, p *gqlfast.Plan, v []%s) {\n", w.Name, w.elem())
	b.WriteString("\tl.Open()\n\tfor i, obj := range v {\n\t\tl.Object(i)\n\t\tfor j, field := range p.Fields {\n\t\t\tl.Key(p, j)\n\t\t\tswitch field.Name {\n")
	fmt.Fprintf(b, "\t\t\tcase \"__typename\":\n\t\t\t\tl.Typename(%q)\n", w.Object)
	for _, f := range w.Fields {
		if f.sub != nil {
			fmt.Fprintf(b, "\t\t\tcase %q:\n\t\t\t\tec.%s(l, p.Sub(j, ec.OperationContext, %s), obj.%s)\n", f.Name, f.Writer, f.Implementors, f.GoField)
			continue
		}
		fmt.Fprintf(b, "\t\t\tcase %q:\n\t\t\t\tl.%s(obj.%s)\n", f.Name, f.Method, f.GoField)
	}
	b.WriteString("\t\t\t}\n\t\t}\n\t\tl.End()\n\t}\n\tl.Close()\n}\n")
}

// check is the name of w's check.
func (w *writer) check() string { return "fastCheck" + strings.TrimPrefix(w.Name, "fastWrite") }

// elem is the Go type of the list's elements.
func (w *writer) elem() string {
	if w.Ptr {
		return "*" + w.ElemType
	}
	return w.ElemType
}

// Rewrite edits the executor gqlgen wrote: each list marshaler of plain
// objects first tries its fast function, and each list marshaler of
// non-concurrent objects marshals in order.
func (p *Plugin) Rewrite() error {
	files, err := filepath.Glob(filepath.Join(p.dir, "*.generated.go"))
	if err != nil {
		return err
	}
	done, payload, deferred, childErrs := map[string]bool{}, false, false, map[string]bool{}
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		out := rewriteArgs(string(src))
		if strings.Contains(out, deferredGroup) {
			out = strings.ReplaceAll(out, deferredGroup, deferredGroupIfAny)
			deferred = true
		}
		out = rewriteChildErrors(out, childErrs)
		if strings.Contains(out, queryPayload) {
			out = strings.Replace(out, queryPayload, "\t\t\tresponse.Data = marshalResponse(opCtx, data)\n", 1)
			payload = true
		}
		for fn := range p.inOrder {
			head := "func (ec *executionContext) " + fn + "("
			start := strings.Index(out, head)
			if start < 0 {
				continue
			}
			open := start + strings.Index(out[start:], "{\n") + 2
			end := len(out)
			if n := strings.Index(out[open:], "\nfunc "); n >= 0 {
				end = open + n
			}
			body := strings.Replace(out[open:end], "graphql.MarshalSliceConcurrently(", "marshalSliceSequential(", 1)
			if fast, ok := p.fast[fn]; ok {
				body = "\tif m := ec." + fast + "(ctx, sel, v); m != nil {\n\t\treturn m\n\t}\n" + body
			}
			out = out[:open] + body + out[end:]
			done[fn] = true
		}
		if out == string(src) {
			continue
		}
		formatted, err := format.Source([]byte(out))
		if err != nil {
			return fmt.Errorf("gqlfast: %s: %w", file, err)
		}
		if err := os.WriteFile(file, formatted, 0o644); err != nil {
			return err
		}
	}
	if err := p.writeChildErrors(childErrs); err != nil {
		return err
	}
	if !payload || !deferred {
		return fmt.Errorf("gqlfast: a query's payload marshalling or an object's deferred group not found in %s/*.generated.go (payload %v, deferred %v): gqlgen's output changed", p.dir, payload, deferred)
	}
	for fn := range p.inOrder {
		if !done[fn] {
			return fmt.Errorf("gqlfast: %s not found in %s/*.generated.go", fn, p.dir)
		}
	}
	return nil
}

// queryPayload is how gqlgen's Exec writes a query's payload: into a
// bytes.Buffer that doubles from 64 bytes (a 1 000-node dashboard's 1 MB
// answer: 15 doublings, twice its size allocated and copied).
const queryPayload = "\t\t\tvar buf bytes.Buffer\n\t\t\tdata.MarshalGQL(&buf)\n\t\t\tresponse.Data = buf.Bytes()\n"

// argsCall is gqlgen's computation of a field's arguments in its field
// context: ec.field_X_args(ctx, field.ArgumentMap(ec.Variables)).
var argsCall = regexp.MustCompile(`ec\.(field_\w+_args)\(ctx, field\.ArgumentMap\(ec\.Variables\)\)`)

// rewriteArgs makes every field context compute its arguments once per
// operation (gqlfast.Args), not once per object.
func rewriteArgs(src string) string {
	return argsCall.ReplaceAllString(src, "ec.memoArgs(ctx, field, ec.$1)")
}

// deferredGroup is how gqlgen ends every object's marshalling: it builds
// the object's path (an allocation per object, 7% of a cold dashboard's)
// and adds to a counter every goroutine shares, and ProcessDeferredGroup
// then returns at once when nothing was deferred.
const deferredGroup = `	atomic.AddInt32(&ec.Deferred, int32(min(len(deferLabelToView), math.MaxInt32)))

	ec.ProcessDeferredGroup(graphql.DeferredGroup{
		Defers:   deferLabelToView,
		Path:     graphql.GetPath(ctx),
		FieldSet: deferredFieldSet,
		Context:  ctx,
	})
`

// deferredGroupIfAny does the same only when something was deferred.
const deferredGroupIfAny = `	if len(deferLabelToView) > 0 {
		atomic.AddInt32(&ec.Deferred, int32(min(len(deferLabelToView), math.MaxInt32)))
		ec.ProcessDeferredGroup(graphql.DeferredGroup{
			Defers:   deferLabelToView,
			Path:     graphql.GetPath(ctx),
			FieldSet: deferredFieldSet,
			Context:  ctx,
		})
	}
`

// childError is the error gqlgen creates in every scalar field's context,
// once per field per object: one value per type does.
var childError = regexp.MustCompile(`errors\.New\("field of type (\w+) does not have child fields"\)`)

// rewriteChildErrors points src's scalar field contexts at one error per
// type (recorded in types), and drops the errors import if nothing else
// uses it.
func rewriteChildErrors(src string, types map[string]bool) string {
	out := childError.ReplaceAllStringFunc(src, func(m string) string {
		typ := childError.FindStringSubmatch(m)[1]
		types[typ] = true
		return "errNoChildFields" + typ
	})
	if out != src && !strings.Contains(out, "errors.") {
		out = strings.Replace(out, "\t\"errors\"\n", "", 1)
	}
	return out
}

// writeChildErrors declares the errors rewriteChildErrors points at, in
// gqlfast's file.
func (p *Plugin) writeChildErrors(types map[string]bool) error {
	if len(types) == 0 {
		return nil
	}
	file := filepath.Join(p.dir, File)
	src, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	b.Write(src)
	b.WriteString("\n// The error of a scalar field's context (gqlgen makes one per field and object).\nvar (\n")
	for _, typ := range sortedKeys(types) {
		fmt.Fprintf(&b, "\terrNoChildFields%s = errors.New(%q)\n", typ, "field of type "+typ+" does not have child fields")
	}
	b.WriteString(")\n")
	out := strings.Replace(b.String(), "import (\n", "import (\n\t\"errors\"\n", 1)
	formatted, err := format.Source([]byte(out))
	if err != nil {
		return fmt.Errorf("gqlfast: %s: %w", file, err)
	}
	return os.WriteFile(file, formatted, 0o644)
}

func lcFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToLower(s[:1]) + s[1:]
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
