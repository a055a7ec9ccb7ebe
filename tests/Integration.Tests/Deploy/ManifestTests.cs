using System.Diagnostics;
using Chihaya.Orleans.Gateway.Hosting;
using Chihaya.Orleans.Grains.Health;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.TestSupport;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Integration.Tests.Deploy;

/// <summary>
/// deploy/k8s, checked offline: built by our own reading of kustomize (needs nothing installed) and by the kubectl on
/// the PATH (deploy/scripts/install-test-deps.sh installs Debian's where there is none), then held to
/// <see cref="ManifestCheck"/>'s rules. The breach tests prove each rule can fail.
/// </summary>
public sealed class ManifestTests
{
    private static readonly DeployPrograms Programs = DeployPrograms.FromRepository();

    /// <summary>Images the local overlay runs beside ours: its throwaway PostgreSQL and Redis.</summary>
    private static readonly HashSet<string> ServiceImages = ["postgres", "redis"];

    public static TheoryData<string> Kustomizations => new() { "deploy/k8s/base", "deploy/k8s/overlays/local" };

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public void Manifests_BuiltWithoutKubectl_KeepEveryRule(string kustomization)
    {
        var documents = KustomizeLite.Build(Path.Combine(RepositoryPaths.Root, kustomization));

        Assert.Empty(new ManifestCheck(Programs, ServiceImages).Check(documents));
        Assert.Contains(documents, document => document.Kind() == "Deployment" && document.Name() == "chihaya-silo");
    }

    [Theory]
    [MemberData(nameof(Kustomizations))]
    public async Task Manifests_BuiltByKubectlKustomize_KeepEveryRule(string kustomization)
    {
        var output = await KubectlKustomizeAsync(Path.Combine(RepositoryPaths.Root, kustomization));
        var documents = Yaml.Documents(output, $"kubectl kustomize {kustomization}");

        Assert.Empty(new ManifestCheck(Programs, ServiceImages).Check(documents));
        // What KustomizeLite leaves out (hash suffixes) must be all it leaves out.
        var lite = KustomizeLite.Build(Path.Combine(RepositoryPaths.Root, kustomization));
        Assert.Equal(
            lite.Select(document => $"{document.Kind()}/{document.Name()}").Order(),
            documents.Select(document => $"{document.Kind()}/{(document.Kind() is "ConfigMap" or "Secret" ? document.Name()[..document.Name().LastIndexOf('-')] : document.Name())}").Order());
    }

    [Fact]
    public void Manifests_TheImagesRunAreTheOnesDeployContainersBuilds()
    {
        var documents = KustomizeLite.Build(Path.Combine(RepositoryPaths.Root, "deploy/k8s/overlays/local"));
        var ours = documents.SelectMany(ManifestCheck.Containers).Select(container => container.String("image")!).Where(image => !ServiceImages.Contains(ManifestCheck.ImageRepository(image)));

        Assert.Equal(["chihaya-gateway:local", "chihaya-silo:local"], ours.Distinct().Order());
        Assert.Equal(["chihaya-gateway", "chihaya-silo"], Programs.Images.Keys.Order());
    }

    public static TheoryData<string, string> Breaches => new()
    {
        { "env Cluster__Redis -> Cluster__Rediss", "Cluster__Rediss: TrackerClusterOptions has no property Rediss" },
        { "env Cluster__Redis -> Redis__Connection", "Redis__Connection is not a setting Chihaya.Orleans.Silo.dll reads" },
        { "env Admin__Token on the silo", "Admin__Token is not a setting Chihaya.Orleans.Silo.dll reads" },
        { "config Gateway__TrustedProxies=10.0.0.1", "Gateway__TrustedProxies: Gateway:TrustedProxies is a list" },
        { "config Cluster__Kubernetes=yes", "Cluster__Kubernetes=yes is not a Boolean" },
        { "gateway env POD_NAME", "POD_NAME is read only by a silo with Cluster__Kubernetes=true" },
        { "silo liveness /health", "livenessProbe asks /health, which Chihaya.Orleans.Silo.dll does not serve" },
        { "gateway readiness port 8080", "readinessProbe port 8080 is not the program's HTTP port" },
        { "silo containerPort 11111 -> 11112", "containerPort 11112 is none of the ports" },
        { "service targetPort htp", "Service chihaya-gateway: targetPort htp is no container port" },
        { "job args serve", "a Job runs the silo image with args [\"migrate\"]" },
        { "silo image nginx", "image 'nginx:1' is none of deploy/containers/images" },
        { "silo grace 20", "terminationGracePeriodSeconds 20 does not outlast" },
        { "gateway replicas 2", "sets replicas, which every apply would reset under the autoscaler" },
        { "secret key misspelt", "reads key 'admin-tokn' of Secret chihaya-secrets, which has no such key" },
        { "silo network policy gone", "no NetworkPolicy selects the silo's pods" },
        { "silo network policy open to all", "an ingress rule lets sources other than the tracker's pods reach the silo's port 11111, 30000" },
        { "silo network policy open to an ipBlock", "an ingress rule lets sources other than the tracker's pods reach the silo's port 11111, 30000" },
        { "silo network policy open on every port", "an ingress rule lets sources other than the tracker's pods reach the silo's port 11111, 30000" },
        { "gateway admin port not in Urls", "Admin__Port 9970 is none of the ports in Urls" },
        { "gateway network policy gone", "no NetworkPolicy selects the gateway's pods, so any pod in the cluster can try tokens on the admin port 9969" },
        { "gateway network policy admin port open to all", "an ingress rule lets any pod or address reach the gateway's admin port 9969" },
        { "gateway network policy admin port open to every namespace", "an ingress rule lets any pod or address reach the gateway's admin port 9969" },
        { "gateway without an admin port", "the public Service chihaya-gateway reaches the admin API, the status page and /metrics" },
        { "public service carries the admin port", "the public Service chihaya-gateway carries the admin port 9969 (Admin__Port)" },
    };

    [Theory]
    [MemberData(nameof(Breaches))]
    public void Manifests_OneBreach_NamedByTheCheck(string breach, string expected)
    {
        var documents = KustomizeLite.Build(Path.Combine(RepositoryPaths.Root, "deploy/k8s/overlays/local"));
        Break(documents, breach);

        var problems = new ManifestCheck(Programs, ServiceImages).Check(documents);

        Assert.Contains(problems, problem => problem.Contains(expected, StringComparison.Ordinal));
    }

    [Fact]
    public void Manifests_HandWrittenWithAWrongNameAndPath_BothNamed()
    {
        const string manifest = """
            apiVersion: apps/v1
            kind: Deployment
            metadata:
              name: gateway
            spec:
              template:
                metadata:
                  labels: {app: gateway}
                spec:
                  terminationGracePeriodSeconds: 40
                  containers:
                  - name: gateway
                    image: registry.example.org/tracker/chihaya-gateway:1.0
                    ports: [{name: http, containerPort: 6969}]
                    env:
                    - {name: Urls, value: "http://0.0.0.0:6969"}
                    - {name: Cluster__Mode, value: Client}
                    - {name: Tracker__AnnounceIntervall, value: "00:30:00"}
                    livenessProbe: {httpGet: {path: /healthz, port: http}}
                    readinessProbe: {httpGet: {path: /ready, port: 6969}}
            """;

        var problems = new ManifestCheck(Programs, ServiceImages).Check(Yaml.Documents(manifest, "test"));

        Assert.Equal(2, problems.Count);
        Assert.Contains("Tracker__AnnounceIntervall: TrackerOptions has no property AnnounceIntervall", problems[0], StringComparison.Ordinal);
        Assert.Contains("readinessProbe asks /ready", problems[1], StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("deploy/systemd/silo.env.example", "chihaya-silo")]
    [InlineData("deploy/systemd/gateway.env.example", "chihaya-gateway")]
    public void SystemdEnvironmentFiles_SetOnlySettingsTheProgramReads(string file, string image)
    {
        var environment = File.ReadAllLines(Path.Combine(RepositoryPaths.Root, file))
            .Select(line => line.TrimStart('#'))
            .Where(line => line.Contains('=', StringComparison.Ordinal) && !line.Contains(' ', StringComparison.Ordinal))
            .Select(line => line.Split('=', 2))
            .ToDictionary(pair => pair[0], pair => (string?)pair[1]);

        Assert.NotEmpty(environment);
        Assert.Empty(new ManifestCheck(Programs, ServiceImages).CheckSettings(Programs.Images[image], environment, file));
    }

    [Theory]
    [InlineData("deploy/systemd/chihaya-gateway.service")]
    [InlineData("deploy/systemd/chihaya-silo.service")]
    public void SystemdUnits_CapabilitiesOfferedToUncomment_ComeAfterTheLineThatEmptiesTheSet(string file)
    {
        // systemd empties the bounding set at "CapabilityBoundingSet=" and adds any later non-empty line to it: an
        // optional capability above that line would be taken away again once uncommented.
        var lines = File.ReadAllLines(Path.Combine(RepositoryPaths.Root, file)).Select(line => line.TrimStart('#').Trim()).ToList();
        var emptied = lines.IndexOf("CapabilityBoundingSet=");

        Assert.True(emptied >= 0, $"{file} does not empty the capability bounding set");
        Assert.All(
            lines.Select((line, at) => (line, at)).Where(entry => entry.line.StartsWith("CapabilityBoundingSet=", StringComparison.Ordinal) && entry.line.Length > "CapabilityBoundingSet=".Length),
            entry => Assert.True(entry.at > emptied, $"{file}: '{entry.line}' on line {entry.at + 1} comes before the line that empties the set"));
    }

    [Fact]
    public void Manifests_NotYaml_Refused()
    {
        var problem = Assert.Throws<InvalidDataException>(() => Yaml.Documents("kind: Service\n  name: [unclosed", "broken.yaml"));

        Assert.StartsWith("broken.yaml: not YAML", problem.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(HealthEndpoints.LivenessPath)]
    [InlineData(HealthEndpoints.ReadinessPath)]
    public void Gateway_ServesEveryProbePath(string path)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration["Cluster:Mode"] = ClusterModes.Client;
        builder.AddTrackerGateway();
        var app = builder.Build();
        app.MapTracker();

        var routes = ((IEndpointRouteBuilder)app).DataSources.SelectMany(source => source.Endpoints).OfType<RouteEndpoint>().Select(endpoint => endpoint.RoutePattern.RawText);

        Assert.Contains(path, routes);
    }

    [Theory]
    [InlineData(ClusterModes.Client)]
    [InlineData(ClusterModes.Embedded)]
    public void Gateway_GivesItsServicesTheStopTimeOfTheShutdownDeadline(string mode)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = "Testing" });
        builder.Configuration["Cluster:Mode"] = mode;
        builder.AddTrackerGateway();
        using var app = builder.Build();

        // Within the pod's grace and before the deadline that ends a hanging stop (ManifestCheck holds the grace to it).
        Assert.Equal(ShutdownDeadline.HostStopTimeout, app.Services.GetRequiredService<IOptions<HostOptions>>().Value.ShutdownTimeout);
        Assert.True(ShutdownDeadline.HostStopTimeout < ShutdownDeadline.ProcessEndsAfter);
    }

    private static void Break(List<Dictionary<object, object?>> documents, string breach)
    {
        Dictionary<object, object?> Workload(string kind, string name) => documents.Single(document => document.Kind() == kind && document.Name() == name);
        Dictionary<object, object?> Container(string kind, string name) => ManifestCheck.Containers(Workload(kind, name)).First();
        Dictionary<object, object?> Env(string kind, string name, string variable) => Container(kind, name).Maps("env").Single(entry => entry.String("name") == variable);
        Dictionary<object, object?> ConfigMap(string name) => documents.Single(document => document.Kind() == "ConfigMap" && document.Name() == name).Map("data")!;
        var silo = ("Deployment", "chihaya-silo");
        var gateway = ("Deployment", "chihaya-gateway");

        switch (breach)
        {
            case "env Cluster__Redis -> Cluster__Rediss":
                Env(silo.Item1, silo.Item2, "Cluster__Redis")["name"] = "Cluster__Rediss";
                break;
            case "env Cluster__Redis -> Redis__Connection":
                Env(silo.Item1, silo.Item2, "Cluster__Redis")["name"] = "Redis__Connection";
                break;
            case "env Admin__Token on the silo":
                ((List<object?>)Container(silo.Item1, silo.Item2)["env"]!).Add(new Dictionary<object, object?> { ["name"] = "Admin__Token", ["value"] = "x" });
                break;
            case "config Gateway__TrustedProxies=10.0.0.1":
                ConfigMap("chihaya-gateway")["Gateway__TrustedProxies"] = "10.0.0.1";
                break;
            case "config Cluster__Kubernetes=yes":
                ConfigMap("chihaya-silo")["Cluster__Kubernetes"] = "yes";
                break;
            case "gateway env POD_NAME":
                ((List<object?>)Container(gateway.Item1, gateway.Item2)["env"]!).Add(new Dictionary<object, object?> { ["name"] = "POD_NAME", ["value"] = "x" });
                break;
            case "silo liveness /health":
                Container(silo.Item1, silo.Item2).Path("livenessProbe", "httpGet")!["path"] = "/health";
                break;
            case "gateway readiness port 8080":
                Container(gateway.Item1, gateway.Item2).Path("readinessProbe", "httpGet")!["port"] = "8080";
                break;
            case "silo containerPort 11111 -> 11112":
                Container(silo.Item1, silo.Item2).Maps("ports").Single(port => port.String("containerPort") == "11111")["containerPort"] = "11112";
                break;
            case "service targetPort htp":
                documents.Single(document => document.Kind() == "Service" && document.Name() == "chihaya-gateway").Map("spec").Maps("ports").Single()["targetPort"] = "htp";
                break;
            case "job args serve":
                Container("Job", "chihaya-migrate")["args"] = new List<object?> { "serve" };
                break;
            case "silo image nginx":
                Container(silo.Item1, silo.Item2)["image"] = "nginx:1";
                break;
            case "silo grace 20":
                Workload(silo.Item1, silo.Item2).Path("spec", "template", "spec")!["terminationGracePeriodSeconds"] = "20";
                break;
            case "gateway replicas 2":
                Workload(gateway.Item1, gateway.Item2).Map("spec")!["replicas"] = "2";
                break;
            case "secret key misspelt":
                Env(gateway.Item1, gateway.Item2, "Admin__Token").Path("valueFrom", "secretKeyRef")!["key"] = "admin-tokn";
                break;
            case "silo network policy gone":
                documents.RemoveAll(document => document.Kind() == "NetworkPolicy" && document.Name() == "chihaya-silo");
                break;
            case "silo network policy open to all":
                documents.Single(document => document.Kind() == "NetworkPolicy" && document.Name() == "chihaya-silo").Path("spec")!.Maps("ingress").First().Remove("from");
                break;
            case "silo network policy open to an ipBlock":
                ((List<object?>)documents.Single(document => document.Kind() == "NetworkPolicy" && document.Name() == "chihaya-silo").Path("spec")!.Maps("ingress").First()["from"]!)
                    .Add(new Dictionary<object, object?> { ["ipBlock"] = new Dictionary<object, object?> { ["cidr"] = "0.0.0.0/0" } });
                break;
            case "silo network policy open on every port":
                // The HTTP port's rule, open to anyone, widened to every port.
                documents.Single(document => document.Kind() == "NetworkPolicy" && document.Name() == "chihaya-silo").Path("spec")!.Maps("ingress").Last().Maps("ports").Single().Remove("port");
                break;
            case "gateway admin port not in Urls":
                ConfigMap("chihaya-gateway")["Admin__Port"] = "9970";
                break;
            case "gateway network policy gone":
                documents.RemoveAll(document => document.Kind() == "NetworkPolicy" && document.Name() == "chihaya-gateway");
                break;
            case "gateway network policy admin port open to all":
                documents.Single(document => document.Kind() == "NetworkPolicy" && document.Name() == "chihaya-gateway").Path("spec")!.Maps("ingress").Last().Remove("from");
                break;
            case "gateway network policy admin port open to every namespace":
                ((List<object?>)documents.Single(document => document.Kind() == "NetworkPolicy" && document.Name() == "chihaya-gateway").Path("spec")!.Maps("ingress").Last()["from"]!)
                    .Add(new Dictionary<object, object?> { ["namespaceSelector"] = new Dictionary<object, object?>() });
                break;
            case "gateway without an admin port":
                ConfigMap("chihaya-gateway").Remove("Admin__Port");
                break;
            case "public service carries the admin port":
                ((List<object?>)documents.Single(document => document.Kind() == "Service" && document.Name() == "chihaya-gateway").Map("spec")!["ports"]!)
                    .Add(new Dictionary<object, object?> { ["name"] = "admin", ["port"] = "9969", ["targetPort"] = "admin" });
                break;
            default:
                throw new ArgumentException($"no such breach: {breach}", nameof(breach));
        }
    }

    private static async Task<string> KubectlKustomizeAsync(string folder)
    {
        var start = new ProcessStartInfo("kubectl", ["kustomize", folder]) { RedirectStandardOutput = true, RedirectStandardError = true };
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("kubectl is not on the PATH: deploy/scripts/install-test-deps.sh installs Debian's kubernetes-client.");
        }

        using (process)
        {
            var output = process.StandardOutput.ReadToEndAsync();
            var errors = process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(process.ExitCode == 0, $"kubectl kustomize {folder} failed: {await errors}");
            return await output;
        }
    }
}
