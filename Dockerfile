# syntax=docker/dockerfile:1
# fleetgraph: a static binary (CGO_ENABLED=0) on a distroless base, running as non-root.
#
#   docker build -t fleetgraph .
#   docker run -p 8080:8080 fleetgraph                       # demo mode: embedded simulators and Redis
#   docker run -p 8080:8080 -v $PWD/fleet.yaml:/etc/fleetgraph/fleetgraph.yaml:ro \
#     -e RUNAI_CLIENT_SECRET=... fleetgraph --config /etc/fleetgraph/fleetgraph.yaml
#
# tests/deploy_test.go builds the same static binary and checks it has no ELF interpreter.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first: a change to the sources does not download them again.
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags="-s -w" -o /out/fleetgraph .
# The shipped example must stay valid (its ${VAR} secrets given dummy values).
RUN RUNAI_CLIENT_SECRET=x HW_ACCESS_KEY=x HW_SECRET_KEY=x /out/fleetgraph --config fleetgraph.example.yaml --check-config

# static-debian12 has CA certificates (vendor APIs are HTTPS) and tzdata, no shell, no libc.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/fleetgraph /usr/local/bin/fleetgraph
COPY fleetgraph.example.yaml /etc/fleetgraph/fleetgraph.example.yaml
ENV FLEETGRAPH_LISTEN=0.0.0.0:8080
EXPOSE 8080
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/fleetgraph"]
