package app

import (
	"context"
	"fmt"
	"net/http"

	"github.com/99designs/gqlgen/graphql"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/fleetgraph/fleetgraph/backends"
)

// Tracing (off unless tracing.endpoint is set or Options.TracerProvider is
// given). The spans of one request:
//
//	POST /graphql                 server span; continues the caller's traceparent
//	└─ query Dashboard            the operation (graphql.operation.name/type)
//	   └─ dataloader clusters     one per batch (fleet/loaders.go)
//	      ├─ cache get            Redis GetMany (hits, misses); cache set
//	      └─ runai-a GET /api/v1/clusters    each vendor call, whose traceparent
//	                                         header carries the trace to the vendor
//
// The provider is never installed globally: each gateway passes its own, so
// tests (and two gateways in one process) keep their spans apart.
type telemetry struct {
	on         bool
	tp         trace.TracerProvider
	tracer     trace.Tracer
	propagator propagation.TextMapPropagator
	shutdown   func(context.Context) error
}

const instrumentation = "github.com/fleetgraph/fleetgraph/app"

func newTelemetry(cfg TracingConfig, tp trace.TracerProvider) (*telemetry, error) {
	t := &telemetry{
		propagator: propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}),
		shutdown:   func(context.Context) error { return nil },
	}
	switch {
	case tp != nil:
		t.on, t.tp = true, tp
	case cfg.Endpoint != "":
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(cfg.Endpoint))
		if err != nil {
			return nil, fmt.Errorf("config: tracing.endpoint: %w", err)
		}
		ratio := 1.0
		if cfg.SampleRatio != nil {
			ratio = *cfg.SampleRatio
		}
		name := cfg.ServiceName
		if name == "" {
			name = "fleetgraph"
		}
		sdk := sdktrace.NewTracerProvider(
			sdktrace.WithBatcher(exp),
			sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))),
			sdktrace.WithResource(resource.NewSchemaless(attribute.String("service.name", name))),
		)
		t.on, t.tp, t.shutdown = true, sdk, sdk.Shutdown
	default:
		t.tp = noop.NewTracerProvider()
	}
	t.tracer = t.tp.Tracer(instrumentation)
	return t, nil
}

// serverHandler starts the server span of each request, continuing the
// caller's trace.
func (t *telemetry) serverHandler(next http.Handler) http.Handler {
	if !t.on {
		return next
	}
	return otelhttp.NewHandler(next, "graphql",
		otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }))
}

// upstream wraps a backend's transport: one client span per vendor call,
// named by backend and route template, with the trace context injected
// into the request headers (traceparent) so the vendor can continue it.
func (t *telemetry) upstream(rt http.RoundTripper, backend string, p backends.Provider) http.RoundTripper {
	if !t.on {
		return rt
	}
	return otelhttp.NewTransport(rt,
		otelhttp.WithTracerProvider(t.tp), otelhttp.WithPropagators(t.propagator),
		otelhttp.WithSpanOptions(trace.WithAttributes(attribute.String("fleetgraph.backend", backend), attribute.String("fleetgraph.provider", string(p)))),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			route := backends.RouteFrom(r.Context())
			if route == "" {
				route = r.URL.Path
			}
			return backend + " " + r.Method + " " + route
		}))
}

// operationSpans is the gqlgen extension that names the request's
// operation (for the request log) and, with tracing on, wraps its execution
// in a span.
type operationSpans struct{ t *telemetry }

var _ interface {
	graphql.HandlerExtension
	graphql.OperationInterceptor
} = operationSpans{}

func (operationSpans) ExtensionName() string                   { return "OperationSpans" }
func (operationSpans) Validate(graphql.ExecutableSchema) error { return nil }

func (o operationSpans) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	name, kind := operationName(oc), string(oc.Operation.Operation)
	if s := statsFrom(ctx); s != nil {
		s.setOperation(name, kind)
	}
	if !o.t.on {
		return next(ctx)
	}
	spanName := kind
	if name != "" {
		spanName += " " + name
	}
	ctx, span := o.t.tracer.Start(ctx, spanName, trace.WithAttributes(
		attribute.String("graphql.operation.type", kind), attribute.String("graphql.operation.name", name)))
	h := next(ctx)
	ended := false
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		if ended {
			return resp
		}
		// A query or mutation has one response; a subscription's span
		// covers its set-up and first event, not its whole life.
		ended = true
		if resp != nil && len(resp.Errors) > 0 {
			span.SetAttributes(attribute.Int("graphql.errors", len(resp.Errors)))
			if resp.Data == nil {
				span.SetStatus(codes.Error, resp.Errors[0].Message)
			}
		}
		span.End()
		return resp
	}
}
