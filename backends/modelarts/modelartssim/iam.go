package modelartssim

import (
	"encoding/json"
	"net/http"
	"slices"
	"time"
)

// IAM "Obtaining a User Token Through Password Authentication": the body of
// POST /v3/auth/tokens, project-scoped.
type iamAuthRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password struct {
				User struct {
					Name     string `json:"name"`
					Password string `json:"password"`
					Domain   struct {
						Name string `json:"name"`
					} `json:"domain"`
				} `json:"user"`
			} `json:"password"`
		} `json:"identity"`
		Scope struct {
			Project *struct {
				Name string `json:"name"`
				ID   string `json:"id"`
			} `json:"project"`
		} `json:"scope"`
	} `json:"auth"`
}

type iamRef struct {
	ID     string  `json:"id"`
	Name   string  `json:"name"`
	Domain *iamRef `json:"domain,omitempty"`
}

type iamEndpoint struct {
	ID        string `json:"id"`
	Interface string `json:"interface"`
	Region    string `json:"region"`
	RegionID  string `json:"region_id"`
	URL       string `json:"url"`
}

type iamService struct {
	ID        string        `json:"id"`
	Name      string        `json:"name"`
	Type      string        `json:"type"`
	Endpoints []iamEndpoint `json:"endpoints"`
}

type iamToken struct {
	ExpiresAt string       `json:"expires_at"`
	IssuedAt  string       `json:"issued_at"`
	Methods   []string     `json:"methods"`
	Catalog   []iamService `json:"catalog,omitempty"`
	Domain    iamRef       `json:"domain"`
	Project   iamRef       `json:"project"`
	Roles     []iamRef     `json:"roles"`
	User      iamRef       `json:"user"`
}

// IAM writes times with microseconds: 2019-02-13T06:52:13.855000Z.
const iamTimeLayout = "2006-01-02T15:04:05.000000Z"

func (s *Server) handleIAMTokens(w http.ResponseWriter, r *http.Request) {
	var req iamAuthRequest
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil {
		writeIAMError(w, http.StatusBadRequest, "The request body is invalid.")
		return
	}
	id := req.Auth.Identity
	if !slices.Contains(id.Methods, "password") {
		writeIAMError(w, http.StatusBadRequest, "The authentication method is not supported.")
		return
	}
	u := id.Password.User
	if u.Name != s.opts.Username || u.Password != s.opts.Password || u.Domain.Name != s.opts.Domain {
		writeIAMError(w, http.StatusUnauthorized, "The username or password is wrong.")
		return
	}
	p := req.Auth.Scope.Project
	if p == nil || (p.Name != ProjectName && p.ID != s.opts.ProjectID) {
		writeIAMError(w, http.StatusBadRequest, "A project-scoped token is required: the project name or ID is invalid.")
		return
	}

	tok, c := s.issue(s.opts.Now())
	domain := iamRef{ID: "d" + s.opts.ProjectID[1:], Name: s.opts.Domain}
	body := iamToken{
		ExpiresAt: time.Unix(c.Expires, 0).UTC().Format(iamTimeLayout),
		IssuedAt:  time.Unix(c.Issued, 0).UTC().Format(iamTimeLayout),
		Methods:   []string{"password"},
		Domain:    domain,
		Project:   iamRef{ID: s.opts.ProjectID, Name: ProjectName, Domain: &domain},
		Roles:     []iamRef{{ID: "0", Name: "te_admin"}, {ID: "0", Name: "modelarts_adm"}},
		User:      iamRef{ID: "u" + s.opts.ProjectID[1:], Name: s.opts.Username, Domain: &domain},
	}
	if r.URL.Query().Get("nocatalog") == "" {
		body.Catalog = []iamService{{ID: "modelarts", Name: "modelarts", Type: "modelarts", Endpoints: []iamEndpoint{{
			ID: "modelarts-" + ProjectName, Interface: "public", Region: ProjectName, RegionID: ProjectName,
			URL: "https://modelarts." + ProjectName + ".myhuaweicloud.com",
		}}}}
	}
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, http.StatusCreated, map[string]any{"token": body})
}

// writeIAMError answers in IAM's (Keystone's) error shape.
func writeIAMError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"error": map[string]any{
		"code": status, "message": msg, "title": http.StatusText(status),
	}})
}
