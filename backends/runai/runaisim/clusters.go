package runaisim

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// listClusters is GET /api/v1/clusters: a bare array, not paged.
func (s *Server) listClusters(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := clusterParams(q); err != nil {
		writeBadRequest(w, err)
		return
	}
	clusters := s.fleet.allClusters()
	for i := range clusters {
		clusters[i] = s.present(clusters[i], q)
	}
	writeJSON(w, http.StatusOK, clusters)
}

// getCluster is GET /api/v1/clusters/{clusterUuid}.
func (s *Server) getCluster(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := clusterParams(q); err != nil {
		writeBadRequest(w, err)
		return
	}
	c, ok := s.fleet.cluster(r.PathValue("clusterUuid"))
	if !ok {
		writeError(w, http.StatusNotFound, statusMessage(http.StatusNotFound))
		return
	}
	writeJSON(w, http.StatusOK, s.present(c, q))
}

func clusterParams(q url.Values) error {
	if _, err := enumParam(q, "verbosity", "metadata", "full"); err != nil {
		return err
	}
	_, err := enumParam(q, "includeRequestedForDelete", "true", "false")
	return err
}

// present sets the liveness a connected cluster reports (now) and applies
// verbosity=metadata, which leaves out the reported status.
func (s *Server) present(c runai.Cluster, q url.Values) runai.Cluster {
	seen := s.now().Truncate(time.Second)
	c.LastLiveness = &seen
	if q.Get("verbosity") == "metadata" {
		c.Status = nil
	}
	return c
}

// writeBadRequest answers 400 with err's text when it is a parameter error.
func writeBadRequest(w http.ResponseWriter, err error) {
	var br badRequest
	if errors.As(err, &br) {
		writeError(w, http.StatusBadRequest, br.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, statusMessage(http.StatusInternalServerError))
}
