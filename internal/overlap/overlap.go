// Package overlap is gqlparser's OverlappingFieldsCanBeMerged validation
// rule (github.com/vektah/gqlparser/v2 v2.5.37,
// validator/rules/overlapping_fields_can_be_merged.go, MIT licence,
// Copyright (c) 2018 Adam Scarr) with a budget on its work.
//
// The rule compares every pair of fields that share a response name, and
// every pair of fragments spread in one selection set, recursively: a
// document of 10 000 `__typename` tokens cost ~20 s of CPU. graphql-js
// (CVE-2023-26144), graphql-php and graphql-core bound it the same way: each
// field pair and fragment pair compared spends one unit of a per-document
// budget, and a document that spends it all is refused with one error
// (gqlerror.Error.Rule is Name) instead of being validated to the end. The changes to the
// upstream file are marked "budget:"; reflect.DeepEqual of two field maps
// (which walks the AST and the schema behind it) is replaced by comparing
// the maps' field pointers.
package overlap

import (
	"github.com/vektah/gqlparser/v2/ast"
	//nolint:staticcheck // Validator rules each use dot imports for convenience.
	. "github.com/vektah/gqlparser/v2/validator/core"
)

// Name is the rule's name, replacing gqlparser's OverlappingFieldsCanBeMerged;
// the error of a document over its budget carries it in gqlerror.Error.Rule.
const Name = "OverlappingFieldsCanBeMerged"

// BudgetExceeded is the message of the error of a document over its budget.
const BudgetExceeded = "the document has too many fields or fragments that share a response name to check that they can be merged"

// WithBudget is the rule with a budget of comparisons per document (at
// least 1).
func WithBudget(budget int) Rule {
	return Rule{Name: Name, RuleFunc: func(observers *Events, addError AddErrFunc) {
		ruleFunc(max(budget, 1), observers, addError)
	}}
}

func ruleFunc(budget int, observers *Events, addError AddErrFunc) {
	{
		/**
		 * Algorithm:
		 *
		 * Conflicts occur when two fields exist in a query which will produce the same
		 * response name, but represent differing values, thus creating a conflict.
		 * The algorithm below finds all conflicts via making a series of comparisons
		 * between fields. In order to compare as few fields as possible, this makes
		 * a series of comparisons "within" sets of fields and "between" sets of fields.
		 *
		 * Given any selection set, a collection produces both a set of fields by
		 * also including all inline fragments, as well as a list of fragments
		 * referenced by fragment spreads.
		 *
		 * A) Each selection set represented in the document first compares "within" its
		 * collected set of fields, finding any conflicts between every pair of
		 * overlapping fields.
		 * Note: This is the *only time* that a the fields "within" a set are compared
		 * to each other. After this only fields "between" sets are compared.
		 *
		 * B) Also, if any fragment is referenced in a selection set, then a
		 * comparison is made "between" the original set of fields and the
		 * referenced fragment.
		 *
		 * C) Also, if multiple fragments are referenced, then comparisons
		 * are made "between" each referenced fragment.
		 *
		 * D) When comparing "between" a set of fields and a referenced fragment, first
		 * a comparison is made between each field in the original set of fields and
		 * each field in the referenced set of fields.
		 *
		 * E) Also, if any fragment is referenced in the referenced selection set,
		 * then a comparison is made "between" the original set of fields and the
		 * referenced fragment (recursively referring to step D).
		 *
		 * F) When comparing "between" two fragments, first a comparison is made between
		 * each field in the first referenced set of fields and each field in the the
		 * second referenced set of fields.
		 *
		 * G) Also, any fragments referenced by the first must be compared to the
		 * second, and any fragments referenced by the second must be compared to the
		 * first (recursively referring to step F).
		 *
		 * H) When comparing two fields, if both have selection sets, then a comparison
		 * is made "between" both selection sets, first comparing the set of fields in
		 * the first selection set with the set of fields in the second.
		 *
		 * I) Also, if any fragment is referenced in either selection set, then a
		 * comparison is made "between" the other set of fields and the
		 * referenced fragment.
		 *
		 * J) Also, if two fragments are referenced in both selection sets, then a
		 * comparison is made "between" the two fragments.
		 *
		 */

		m := &overlappingFieldsCanBeMergedManager{
			comparedFragmentPairs: pairSet{data: make(map[string]map[string]bool)},
			budget:                budget,
			addError:              addError,
		}

		observers.OnOperation(func(walker *Walker, operation *ast.OperationDefinition) {
			m.walker = walker
			conflicts := m.findConflictsWithinSelectionSet(operation.SelectionSet)
			for _, conflict := range conflicts {
				conflict.addFieldsConflictMessage(addError)
			}
		})
		observers.OnField(func(walker *Walker, field *ast.Field) {
			if walker.CurrentOperation == nil {
				// When checking both Operation and Fragment, errors are duplicated when processing
				// FragmentDefinition referenced from Operation
				return
			}
			m.walker = walker
			conflicts := m.findConflictsWithinSelectionSet(field.SelectionSet)
			for _, conflict := range conflicts {
				conflict.addFieldsConflictMessage(addError)
			}
		})
		observers.OnInlineFragment(func(walker *Walker, inlineFragment *ast.InlineFragment) {
			m.walker = walker
			conflicts := m.findConflictsWithinSelectionSet(inlineFragment.SelectionSet)
			for _, conflict := range conflicts {
				conflict.addFieldsConflictMessage(addError)
			}
		})
		observers.OnFragment(func(walker *Walker, fragment *ast.FragmentDefinition) {
			m.walker = walker
			conflicts := m.findConflictsWithinSelectionSet(fragment.SelectionSet)
			for _, conflict := range conflicts {
				conflict.addFieldsConflictMessage(addError)
			}
		})
	}
}
