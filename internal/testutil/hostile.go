package testutil

import (
	"fmt"
	"strings"
)

// HostileDocument is a GraphQL document that is small enough to pass the
// body and token limits but costs its validator work out of proportion to
// its size. Limit is the extensions.limit that should refuse it ("" when the
// document is valid and cheap once the validator is bounded).
type HostileDocument struct {
	Name  string
	Query string
	Limit string
}

// HostileDocuments returns the corpus, each document of at most tokens lexer
// tokens (with a `# nonce` comment to add, so that a document cache misses).
// The shapes are those that make validators quadratic or worse: repeated
// fields (the overlapping-fields rule compares every pair that shares a
// response name), fragments spread together (every pair of fragments),
// repeated directives and arguments (one error each, and sameArguments
// compares every pair), many variables and operations, and deeply nested
// input values.
func HostileDocuments(tokens int) []HostileDocument {
	n := func(per int) int { return (tokens - 20) / per }
	rep := func(s string, k int) string { return strings.Repeat(s, k) }
	seq := func(k int, format string) string {
		var b strings.Builder
		for i := range k {
			fmt.Fprintf(&b, format, i)
		}
		return b.String()
	}
	spreads := n(9)
	ops := n(7)
	return []HostileDocument{
		{"__typename repeated", "{ " + rep("__typename ", n(1)) + "}", "selections"},
		{"same field repeated", "{ " + rep("backends { name } ", n(4)) + "}", "selections"},
		{"same response name, different subfields", "{ " + seq(n(6), "backends { a%d: name } ") + "}", "selections"},
		{"aliases to one name", "{ " + rep("x: __typename ", n(3)) + "}", "selections"},
		{"inline fragments", "{ " + rep("... on Query { __typename } ", n(6)) + "}", "selections"},
		{"nested inline fragments", "{ " + rep("... on Query { ", n(5)) + "__typename" + rep(" }", n(5)) + " }", "nesting"},
		{"distinct fragments spread together", "{ " + seq(spreads, "...F%d ") + "}" + seq(spreads, " fragment F%d on Query { __typename }"), "fragments"},
		{"one fragment spread many times", "{ " + rep("...F ", n(2)) + "} fragment F on Query { __typename }", "selections"},
		{"repeated directive", "{ __typename " + rep("@skip(if: false) ", n(7)) + "}", "directives"},
		{"repeated argument", "{ nodes(" + rep("first: 1 ", n(3)) + ") { totalCount } }", "arguments"},
		{"many variables", "query(" + seq(n(4), "$v%d: Int ") + ") { __typename }", "variables"},
		{"many operations", seq(ops, "query Q%d { ...F } ") + "fragment F on Query { __typename }", "operations"},
		{"deeply nested list value", "{ nodes(first: " + rep("[", n(2)) + "1" + rep("]", n(2)) + ") { totalCount } }", "inputDepth"},
		{"nested fields sharing response names", overlapTree(tokens), "selections"},
		{"fragment bomb", fragmentBomb(40), "complexity"},
	}
}

// fragmentBomb doubles its selection at each of n levels: 2^n fields once
// expanded, in a document of a few hundred bytes.
func fragmentBomb(n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{ backends { ...F%d } } fragment F0 on Backend { name provider }", n)
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, " fragment F%d on Backend { ...F%d ...F%d }", i, i-1, i-1)
	}
	return b.String()
}

// HostileUnderLimits returns documents that pass the document limits
// (selections selections at most, the default limits otherwise) but would
// still cost the overlapping-fields rule n² comparisons: its budget
// (limits.maxFieldComparisons) must refuse them.
func HostileUnderLimits(selections int) []HostileDocument {
	k := selections - 1
	rep := func(s string, k int) string { return strings.Repeat(s, k) }
	var distinct strings.Builder
	for i := range k / 2 {
		fmt.Fprintf(&distinct, "backends { a%d: name } ", i)
	}
	var spreads, frags strings.Builder
	// 99 fragments of 19 fields each, all named x, spread together: every
	// pair of fragments compares 19 x 19 fields.
	fields := (k - 99) / 99
	for i := range 99 {
		fmt.Fprintf(&spreads, "...F%d ", i)
		fmt.Fprintf(&frags, " fragment F%d on Query { %s}", i, rep("x: __typename ", fields))
	}
	return []HostileDocument{
		{"__typename at the selection limit", "{ " + rep("__typename ", k) + "}", "fieldComparisons"},
		{"one alias at the selection limit", "{ " + rep("x: __typename ", k) + "}", "fieldComparisons"},
		{"same field, different subfields, at the limit", "{ " + distinct.String() + "}", "fieldComparisons"},
		{"inline fragments at the limit", "{ " + rep("... on Query { x: __typename } ", k/2) + "}", "fieldComparisons"},
		{"fragments at the limit spread together", "{ " + spreads.String() + "}" + frags.String(), "fieldComparisons"},
	}
}

// overlapTree: k copies of a field at each of several levels, each copy
// differing at its leaf so that no two are identical: the overlapping-fields
// rule compares the copies pairwise at every level.
func overlapTree(tokens int) string {
	var b strings.Builder
	b.WriteString("{ ")
	for i := range (tokens - 10) / 24 {
		fmt.Fprintf(&b, "nodes { edges { node { cluster { nodes { edges { node { a%d: name } } } } } } } ", i)
	}
	b.WriteString("}")
	return b.String()
}
