package modelarts

import (
	"context"
	"fmt"
	"net/http"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Authorize authenticates req, a call to another Huawei Cloud service of
// this backend's project and region (AOM, package aom), exactly as this
// client authenticates its own calls: the static, IAM or caller's
// X-Auth-Token (an IAM token is project-scoped and valid for every service
// of the project), or an SDK-HMAC-SHA256 signature over req and body with
// X-Project-Id. Call it last, once req carries every header to sign; set
// headers a proxy may rewrite (User-Agent, Accept) after it. It returns the
// token it used ("" when signing), for Reauthorize.
func (c *Client) Authorize(ctx context.Context, req *http.Request, body []byte) (string, error) {
	token, err := c.credential(ctx)
	if err != nil {
		return "", err
	}
	if c.mode != authAKSK {
		req.Header.Set("X-Auth-Token", token)
		return token, nil
	}
	req.Header.Set("Host", req.URL.Host) // so that Sign covers it; net/http sends req.Host
	req.Header.Set("X-Project-Id", c.cfg.ProjectID)
	if err := Sign(req, body, c.cfg.AccessKey, c.cfg.SecretKey, c.now()); err != nil {
		return "", fmt.Errorf("%s %s: %w", backends.ModelArts, c.cfg.Name, err)
	}
	return token, nil
}

// Reauthorize is the answer to a 401 on a call made with Authorize's token:
// with an IAM token it drops that token, so that the next Authorize fetches
// a new one, and reports true (one more try may succeed, as this client
// does for its own calls); in every other mode it reports false.
func (c *Client) Reauthorize(token string) bool {
	if c.mode != authIAM || token == "" {
		return false
	}
	c.iam.Invalidate(token)
	return true
}
