package ids

import (
	"strings"

	"k8s.io/apimachinery/pkg/api/validate/content"
)

// K8sName checks a Kubernetes object name (a DNS-1123 subdomain), a rule
// more than one vendor's identifiers follow (nodes are Kubernetes nodes).
func K8sName(s string) string { return K8s(content.IsDNS1123Subdomain)(s) }

// K8s turns one of apimachinery's checks into a Part check.
func K8s(f func(string) []string) func(string) string {
	return func(s string) string {
		if errs := f(s); len(errs) > 0 {
			return strings.Join(errs, "; ")
		}
		return ""
	}
}
