package main

import (
	"context"
	"strings"
	"sync"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/protobuf/types/known/emptypb"
)

// What the Python SDK makes of the engine's cancellation of a deployment (a resource failed, or
// the operator cancelled): a resource monitor that stopped answering is logged as monitorGone,
// a call the engine cancelled is an exception "context canceled", which the executor reports as
// an unhandled exception with its traceback (pulumi/runtime/settings.py, grpc_error_to_exception;
// pulumi-language-python-exec). The engine reports the cause itself. Whether the program logs
// either before the language host stops it (see Run) is a race.
const (
	monitorGone     = "Resource monitor has terminated, shutting down"
	callCancelled   = "Exception: context canceled"
	unhandledPrefix = "Program failed with an unhandled exception:"
)

// cancellationFallout reports whether a program's log message is only the engine's cancellation
// seen from the program.
func cancellationFallout(req *pulumirpc.LogRequest) bool {
	if req.Severity != pulumirpc.LogSeverity_ERROR {
		return false
	}
	message := strings.TrimSpace(req.Message)
	return message == monitorGone ||
		(strings.HasPrefix(message, unhandledPrefix) && strings.HasSuffix(message, "\n"+callCancelled))
}

type engineProxy struct {
	pulumirpc.UnimplementedEngineServer
	host *languageHost

	mu      sync.Mutex
	address string
	client  pulumirpc.EngineClient
}

func (p *engineProxy) engine() (pulumirpc.EngineClient, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.client == nil || p.address != p.host.engineAddress {
		conn, err := grpc.NewClient(p.host.engineAddress,
			grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
		if err != nil {
			return nil, err
		}
		p.address, p.client = p.host.engineAddress, pulumirpc.NewEngineClient(conn)
	}
	return p.client, nil
}

func (p *engineProxy) Log(ctx context.Context, req *pulumirpc.LogRequest) (*emptypb.Empty, error) {
	if cancellationFallout(req) {
		return &emptypb.Empty{}, nil
	}
	engine, err := p.engine()
	if err != nil {
		return nil, err
	}
	return engine.Log(ctx, req)
}

func (p *engineProxy) GetRootResource(
	ctx context.Context, req *pulumirpc.GetRootResourceRequest,
) (*pulumirpc.GetRootResourceResponse, error) {
	engine, err := p.engine()
	if err != nil {
		return nil, err
	}
	return engine.GetRootResource(ctx, req)
}

func (p *engineProxy) SetRootResource(
	ctx context.Context, req *pulumirpc.SetRootResourceRequest,
) (*pulumirpc.SetRootResourceResponse, error) {
	engine, err := p.engine()
	if err != nil {
		return nil, err
	}
	return engine.SetRootResource(ctx, req)
}

func (p *engineProxy) StartDebugging(ctx context.Context, req *pulumirpc.StartDebuggingRequest) (*emptypb.Empty, error) {
	engine, err := p.engine()
	if err != nil {
		return nil, err
	}
	return engine.StartDebugging(ctx, req)
}

func (p *engineProxy) RequirePulumiVersion(
	ctx context.Context, req *pulumirpc.RequirePulumiVersionRequest,
) (*pulumirpc.RequirePulumiVersionResponse, error) {
	engine, err := p.engine()
	if err != nil {
		return nil, err
	}
	return engine.RequirePulumiVersion(ctx, req)
}
