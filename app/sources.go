package app

import (
	"fmt"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/aom"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	modelartssource "github.com/fleetgraph/fleetgraph/fleet/modelarts"
	runaisource "github.com/fleetgraph/fleetgraph/fleet/runai"
)

// sourceBuilder builds one vendor's fleet.Source from its configuration
// section, and names the backends that forward callers' credentials.
type sourceBuilder func(g *Gateway, cfg *Config) (src fleet.Source, passThrough []string, err error)

// sources is the composition root's list of vendors, in the order their
// backends are listed: a vendor is its adapter package (fleet/<vendor>)
// and one line here.
var sources = []sourceBuilder{
	buildRunAI,
	buildModelArts,
}

// registry builds every vendor's source and the registry over them.
func (g *Gateway) registry(cfg *Config) (*fleet.Registry, error) {
	var all []fleet.Source
	var passThrough []string
	for _, build := range sources {
		src, pt, err := build(g, cfg)
		if err != nil {
			return nil, err
		}
		all = append(all, src)
		passThrough = append(passThrough, pt...)
	}
	reg, err := fleet.NewRegistry(all...)
	if err != nil {
		return nil, err
	}
	reg.SetPassThrough(passThrough...)
	return reg, nil
}

func buildRunAI(g *Gateway, cfg *Config) (fleet.Source, []string, error) {
	var clients []*runai.Client
	var passThrough, legacy []string
	for _, r := range cfg.RunAI {
		c, err := runai.New(runai.Config{
			Name: r.Name, BaseURL: r.BaseURL, ClientID: r.ClientID, ClientSecret: r.ClientSecret,
			PassThrough: r.PassThrough, Timeout: time.Duration(r.Timeout),
			HTTPClient: g.backendClient(r.Name, backends.RunAI, r.RateLimit), Observer: g.Metrics,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("runai backend %q: %w", r.Name, err)
		}
		clients = append(clients, c)
		if r.PassThrough {
			passThrough = append(passThrough, r.Name)
		}
		if r.LegacyNodePoolAPI {
			legacy = append(legacy, r.Name)
		}
	}
	src := runaisource.New(clients...)
	src.SetLegacyNodePools(legacy...)
	for _, r := range cfg.RunAI {
		if r.APIVersion != "" { // validated; unset: probed on first use
			v, err := runai.ParseAPIVersion(r.APIVersion)
			if err != nil {
				return nil, nil, fmt.Errorf("runai backend %q: %w", r.Name, err)
			}
			src.SetAPIVersion(r.Name, v)
		}
	}
	return src, passThrough, nil
}

func buildModelArts(g *Gateway, cfg *Config) (fleet.Source, []string, error) {
	var clients []*modelarts.Client
	var passThrough []string
	for _, m := range cfg.ModelArts {
		mc := modelarts.Config{
			Name: m.Name, Endpoint: m.Endpoint, ProjectID: m.ProjectID, Token: m.Token,
			AccessKey: m.AccessKey, SecretKey: m.SecretKey, PassThrough: m.PassThrough, Timeout: time.Duration(m.Timeout),
			HTTPClient: g.backendClient(m.Name, backends.ModelArts, m.RateLimit), Observer: g.Metrics,
		}
		if m.IAM != nil {
			mc.IAM = &modelarts.IAMConfig{Endpoint: m.IAM.Endpoint, Username: m.IAM.Username, Password: m.IAM.Password, Domain: m.IAM.Domain, Project: m.IAM.Project}
		}
		c, err := modelarts.New(mc)
		if err != nil {
			return nil, nil, fmt.Errorf("modelarts backend %q: %w", m.Name, err)
		}
		clients = append(clients, c)
		if m.PassThrough {
			passThrough = append(passThrough, m.Name)
		}
	}
	src := modelartssource.New(clients...)
	for i, m := range cfg.ModelArts {
		if m.AOM == nil {
			continue
		}
		ac, err := aom.New(aom.Config{
			Name: m.Name, Endpoint: m.AOM.Endpoint, ProjectID: m.ProjectID, Auth: clients[i],
			Timeout: time.Duration(m.AOM.Timeout), Observer: g.Metrics,
			// Its own breaker and retries: AOM failing must not open the
			// ModelArts breaker (inventory and writes stay up).
			HTTPClient: g.backendClient(m.Name+aomSuffix, backends.ModelArts, nil),
		})
		if err != nil {
			return nil, nil, fmt.Errorf("modelarts backend %q: aom: %w", m.Name, err)
		}
		if err := src.SetAOM(m.Name, modelartssource.AOMConfig{Client: ac, NodeLabel: m.AOM.NodeLabel, Queries: m.AOM.Queries}); err != nil {
			return nil, nil, err
		}
	}
	return src, passThrough, nil
}

// aomSuffix names a ModelArts backend's AOM upstream (its breaker, upstream
// metrics and /readyz entry): "<backend>/aom".
const aomSuffix = "/aom"
