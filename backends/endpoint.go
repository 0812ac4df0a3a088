package backends

import (
	"errors"
	"net/url"
	"strings"
)

// ParseEndpoint checks a vendor base URL: absolute http(s), with no query,
// fragment or user info, and returns it without its trailing slashes. Its
// errors never quote the URL: user info there may be a secret.
func ParseEndpoint(s string) (*url.URL, error) {
	if s == "" {
		return nil, errors.New("required")
	}
	u, err := url.Parse(s)
	if err != nil {
		// url.Error quotes the whole URL; its cause does not.
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err
		}
		return nil, err
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("is not an absolute http(s) URL")
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, errors.New("must not carry a query, fragment or user info")
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}
