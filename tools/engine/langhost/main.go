// pulumi-language-python: a Python language host for the Pulumi engine.
//
// The engine starts it with the engine's gRPC address as the only argument and reads the port it
// serves on from its first line of output. It runs Python programs through the SDK's executor
// script (pulumi-language-python-exec, installed next to this binary by tools/engine/build.sh),
// reports the provider packages a program needs from the pulumi-plugin.json files its
// virtualenv holds, and runs Python plugins such as policy packs. Everything Python-specific
// (finding the virtualenv, listing packages) is the SDK's own toolchain package.
//
// When the engine cancels a run (a resource failed, the operator pressed Ctrl-C) the program is
// stopped without a Python traceback, and its errors that only echo the cancellation are not
// passed on (engine_proxy.go): the operator's last lines are the engine's account of what
// failed. The language host stops when the engine does, or goes away, and its programs and
// plugins with it (process_linux.go).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	"github.com/pulumi/pulumi/sdk/v3/go/common/version"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// The executor exits with this code after it has already shown the user an actionable message.
const execShowedUserMessage = 32

const (
	// How long a program has to exit after SIGTERM before it is killed.
	programStopGrace = 2 * time.Second
	// How long the language host may take to stop once told to (or once the engine is gone); the
	// engine kills its plugins' process groups 5 s after its SIGINT.
	shutdownDeadline = 4 * time.Second
	// How often the language host checks that the engine that started it still runs.
	parentPollInterval = 250 * time.Millisecond
)

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.String("tracing", "", "accepted for compatibility; tracing is not supported")
	flag.Parse()
	if *showVersion {
		fmt.Println(version.Version)
		return
	}
	self, err := os.Executable()
	if err != nil {
		fail(err)
	}
	host := &languageHost{exec: filepath.Join(filepath.Dir(self), "pulumi-language-python-exec")}
	if flag.NArg() > 0 {
		host.engineAddress = flag.Arg(0)
	}
	// The engine stops plugins with SIGINT to their process group, and kills the group 5 s later.
	// Handle it explicitly: a process started in the background by a non-interactive shell (CI
	// jobs, nohup) inherits SIGINT as ignored, and every program run then waited those 5 s.
	interrupted, stopSignals := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	// The engine does not always stop its plugins: a killed pulumi cannot, and a preview whose
	// config fails the engine's own type check exits without doing so. Stop when it is gone.
	shutdown, engineGone := context.WithCancel(interrupted)
	go watchParent(shutdown, engineGone)
	serverCancel := make(chan bool)
	go func() {
		<-shutdown.Done()
		close(serverCancel) // graceful: a running program is stopped first (see Run)
		// Never outstay the engine's patience; the kernel kills the children we leave (Pdeathsig).
		time.AfterFunc(shutdownDeadline, func() { os.Exit(1) })
	}()
	host.shutdownCtx = shutdown
	host.cancelCtx, host.cancel = context.WithCancel(shutdown)

	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: serverCancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, host)
			pulumirpc.RegisterEngineServer(srv, &engineProxy{host: host})
			return nil
		},
	})
	if err != nil {
		fail(err)
	}
	host.port = handle.Port
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
	os.Exit(1)
}

type languageHost struct {
	pulumirpc.UnimplementedLanguageRuntimeServer

	exec          string
	engineAddress string
	port          int             // where this language host serves, the engine proxy included
	shutdownCtx   context.Context // ends when the language host stops
	cancelCtx     context.Context // ends on the engine's Cancel too: programs stop, plugins do not
	cancel        context.CancelFunc
}

// pythonToolchain resolves the project's Python from the runtime options of Pulumi.yaml
// (`virtualenv`, `toolchain`). Plugins (policy packs) default to a `venv` next to them.
func pythonToolchain(info *pulumirpc.ProgramInfo, isPlugin bool) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{Root: info.RootDirectory, ProgramDir: info.ProgramDirectory}
	for key, value := range info.GetOptions().AsMap() {
		text, ok := value.(string)
		if !ok {
			return nil, fmt.Errorf("runtime option %q must be a string, got %v", key, value)
		}
		switch key {
		case "virtualenv":
			opts.Virtualenv = text
		case "toolchain":
			switch text {
			case "pip":
				opts.Toolchain = toolchain.Pip
			case "poetry":
				opts.Toolchain = toolchain.Poetry
			case "uv":
				opts.Toolchain = toolchain.Uv
			default:
				return nil, fmt.Errorf("runtime option toolchain=%q: use pip, poetry or uv", text)
			}
		}
	}
	if isPlugin && opts.Virtualenv == "" {
		opts.Virtualenv = "venv"
	}
	return toolchain.ResolveToolchain(opts)
}

// programToolchain is pythonToolchain for a program, which needs its virtualenv to exist: the engine
// asks for the program's packages first, so that is where a missing one is reported, in one line.
func programToolchain(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	tc, err := pythonToolchain(info, false)
	if err != nil {
		return nil, err
	}
	venv, err := tc.VirtualEnvPath(context.Background())
	if err != nil {
		return nil, err
	}
	if venv != "" && !toolchain.IsVirtualEnv(venv) {
		return nil, fmt.Errorf("the program's virtualenv %s (the virtualenv option of Pulumi.yaml) has no Python: "+
			"create it with `make setup`", venv)
	}
	return tc, nil
}

func (h *languageHost) Handshake(
	ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	h.engineAddress = req.EngineAddress
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *languageHost) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version.Version}, nil
}

func (h *languageHost) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	h.cancel()
	return &emptypb.Empty{}, nil
}

// pluginManifestsScript prints the pulumi-plugin.json of every importable package that ships one.
// SDK packages keep it at their top (pulumi_openstack/pulumi-plugin.json), so one glob per import
// path finds them all; reading every distribution's file list instead took 0.2-0.4 s per run.
const pluginManifestsScript = `
import glob, json, os, sys
found = []
for path in dict.fromkeys(os.path.abspath(entry) for entry in sys.path if entry):
    for manifest in sorted(glob.glob(os.path.join(glob.escape(path), "*", "pulumi-plugin.json"))):
        with open(manifest) as file:
            found.append(json.load(file))
print(json.dumps(found))
`

// GetRequiredPackages lists the resource plugins named by the pulumi-plugin.json files in the
// program's virtualenv, so the engine loads exactly the providers the SDK packages ask for.
func (h *languageHost) GetRequiredPackages(
	ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	tc, err := programToolchain(req.Info)
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", pluginManifestsScript)
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing the program's Pulumi packages: %w", commandError(err))
	}
	var manifests []struct {
		Resource bool   `json:"resource"`
		Name     string `json:"name"`
		Version  string `json:"version"`
		Server   string `json:"server"`
	}
	if err := json.Unmarshal(out, &manifests); err != nil {
		return nil, fmt.Errorf("reading pulumi-plugin.json files: %w", err)
	}
	packages := []*pulumirpc.PackageDependency{}
	for _, m := range manifests {
		if !m.Resource || m.Name == "" || m.Version == "" {
			continue
		}
		packages = append(packages, &pulumirpc.PackageDependency{
			Kind: "resource", Name: m.Name, Version: "v" + strings.TrimPrefix(m.Version, "v"), Server: m.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: packages}, nil
}

func (h *languageHost) GetRequiredPlugins(
	ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	resp, err := h.GetRequiredPackages(ctx, &pulumirpc.GetRequiredPackagesRequest{Info: req.Info})
	if err != nil {
		return nil, err
	}
	plugins := make([]*pulumirpc.PluginDependency, 0, len(resp.Packages))
	for _, p := range resp.Packages {
		plugins = append(plugins, &pulumirpc.PluginDependency{Name: p.Name, Kind: p.Kind, Version: p.Version, Server: p.Server})
	}
	return &pulumirpc.GetRequiredPluginsResponse{Plugins: plugins}, nil
}

// Run executes the program with the SDK's executor, passing the engine's run parameters as flags
// and the stack configuration through the environment, as the Python SDK expects.
func (h *languageHost) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	tc, err := programToolchain(req.Info)
	if err != nil {
		return nil, err
	}
	args := []string{h.exec}
	engine := ""
	if h.engineAddress != "" {
		engine = fmt.Sprintf("127.0.0.1:%d", h.port) // engineProxy
	}
	for _, flagValue := range [][2]string{
		{"monitor", req.MonitorAddress},
		{"engine", engine},
		{"project", req.Project},
		{"root_directory", req.Info.RootDirectory},
		{"stack", req.Stack},
		{"pwd", req.Pwd},
		{"dry_run", strconv.FormatBool(req.DryRun)},
		{"parallel", strconv.Itoa(int(req.Parallel))},
		{"organization", req.Organization},
	} {
		if flagValue[1] != "" {
			args = append(args, "--"+flagValue[0], flagValue[1])
		}
	}
	args = append(args, req.Info.EntryPoint)
	args = append(args, req.Args...)

	config, err := json.Marshal(nonNil(req.Config))
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(append([]string{}, req.ConfigSecretKeys...))
	if err != nil {
		return nil, err
	}

	// The run ends early when the engine cancels it (a resource failed, or the operator pressed
	// Ctrl-C), ends the Run call, stops this language host or goes away.
	runCtx, stop := context.WithCancel(h.cancelCtx)
	defer stop()
	context.AfterFunc(ctx, stop)
	cmd, err := tc.Command(runCtx, args...)
	if err != nil {
		return nil, err
	}
	// The program runs in a process group of its own, so the engine's SIGINT to the language
	// host's group does not reach it: Python turns SIGINT into KeyboardInterrupt tracebacks printed
	// below the error that caused the cancellation. The language host stops it with SIGTERM, which
	// ends a Python process without a word, and the kernel kills it if the language host dies.
	ownProcessGroup(cmd)
	cmd.Cancel = func() error { return terminateGroup(cmd.Process) }
	cmd.WaitDelay = programStopGrace
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	cmd.Env = append(environ(cmd), "PULUMI_CONFIG="+string(config), "PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys))

	err = runChild(cmd)
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return &pulumirpc.RunResponse{}, nil
	case runCtx.Err() != nil:
		// Stopped on cancellation: the engine reports why (the failing resource's error, the
		// cancellation); the program has nothing to add.
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr) && exitErr.ExitCode() == execShowedUserMessage:
		return &pulumirpc.RunResponse{Bail: true}, nil
	case errors.As(err, &exitErr):
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("program exited with non-zero exit code: %d", exitErr.ExitCode())}, nil
	default:
		return &pulumirpc.RunResponse{Error: fmt.Sprintf("could not run the Python executor: %v", err)}, nil
	}
}

// RunPlugin runs a Python plugin (a policy pack's __main__.py) and streams its output.
func (h *languageHost) RunPlugin(req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer) error {
	tc, err := pythonToolchain(req.Info, req.Kind != "analyzer")
	if err != nil {
		return err
	}
	mainPy := filepath.Join(req.Info.ProgramDirectory, "__main__.py")
	pluginCtx, stop := context.WithCancel(h.shutdownCtx)
	defer stop()
	context.AfterFunc(server.Context(), stop)
	cmd, err := tc.Command(pluginCtx, append([]string{"-u", mainPy}, req.Args...)...)
	if err != nil {
		return err
	}
	// A plugin stays in the language host's process group, where the engine's SIGINT reaches it,
	// and dies with the language host.
	dieWithParent(cmd)
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = programStopGrace
	cmd.Dir = req.Pwd
	cmd.Env = append(environ(cmd), req.Env...)
	cmd.Stdout = pluginOutput(server, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}}
	})
	cmd.Stderr = pluginOutput(server, func(b []byte) *pulumirpc.RunPluginResponse {
		return &pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}}
	})
	code := int32(0)
	if err := runChild(cmd); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = int32(exitErr.ExitCode())
	}
	return server.Send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

type pluginWriter func([]byte) error

func (w pluginWriter) Write(p []byte) (int, error) {
	return len(p), w(append([]byte(nil), p...))
}

func pluginOutput(server pulumirpc.LanguageRuntime_RunPluginServer, wrap func([]byte) *pulumirpc.RunPluginResponse) io.Writer {
	return pluginWriter(func(b []byte) error { return server.Send(wrap(b)) })
}

// InstallDependencies creates the virtualenv if needed and installs requirements.txt into it.
func (h *languageHost) InstallDependencies(
	req *pulumirpc.InstallDependenciesRequest, server pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	tc, err := pythonToolchain(req.Info, req.IsPlugin)
	if err != nil {
		return err
	}
	stdout := pluginWriter(func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stdout: b})
	})
	stderr := pluginWriter(func(b []byte) error {
		return server.Send(&pulumirpc.InstallDependenciesResponse{Stderr: b})
	})
	return tc.InstallDependencies(server.Context(), req.Info.ProgramDirectory, req.UseLanguageVersionTools,
		true, stdout, stderr)
}

// About names the program's Python and its version, for the update's metadata. Every preview and
// update waits for it, so it asks Python alone: the toolchain's own About also runs `pip --version`
// (0.4 s of CPU) for a field the response has no place for.
func (h *languageHost) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := programToolchain(req.Info)
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", "import platform, sys; print(sys.executable); print(platform.python_version())")
	if err != nil {
		return nil, err
	}
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("asking the program's Python for its version: %w", commandError(err))
	}
	executable, version, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	return &pulumirpc.AboutResponse{Executable: executable, Version: version}, nil
}

func (h *languageHost) GetProgramDependencies(
	ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := programToolchain(req.Info)
	if err != nil {
		return nil, err
	}
	packages, err := tc.ListPackages(ctx, req.TransitiveDependencies)
	if err != nil {
		return nil, err
	}
	deps := make([]*pulumirpc.DependencyInfo, 0, len(packages))
	for _, p := range packages {
		deps = append(deps, &pulumirpc.DependencyInfo{Name: p.Name, Version: p.Version})
	}
	return &pulumirpc.GetProgramDependenciesResponse{Dependencies: deps}, nil
}

func (h *languageHost) RuntimeOptionsPrompts(
	context.Context, *pulumirpc.RuntimeOptionsRequest,
) (*pulumirpc.RuntimeOptionsResponse, error) {
	return &pulumirpc.RuntimeOptionsResponse{}, nil
}

func (h *languageHost) Pack(context.Context, *pulumirpc.PackRequest) (*pulumirpc.PackResponse, error) {
	return nil, status.Error(codes.Unimplemented, "packing SDKs is not supported by this language host")
}

func nonNil(config map[string]string) map[string]string {
	if config == nil {
		return map[string]string{}
	}
	return config
}

func environ(cmd *exec.Cmd) []string {
	if cmd.Env != nil {
		return cmd.Env
	}
	return os.Environ()
}

func commandError(err error) error {
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && len(exitErr.Stderr) > 0 {
		return fmt.Errorf("%w: %s", err, strings.TrimSpace(string(exitErr.Stderr)))
	}
	return err
}
