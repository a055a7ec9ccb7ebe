using System.Collections;
using System.ComponentModel;
using System.Globalization;
using Chihaya.Orleans.Grains.Hosting;
using Microsoft.AspNetCore.Http;

namespace Chihaya.Orleans.Integration.Tests.Deploy;

/// <summary>
/// The rules the Kubernetes manifests must keep, with a message for each breach that names the object and what is
/// wrong: every container runs one of our images (or an allowed service image such as redis); every environment
/// variable set on ours is a setting that program reads, with a value of the right type; probes ask paths the programs
/// serve, on ports the container declares and the program listens on; Services and budgets select pods, on ports they
/// have; the autoscaler's target exists and leaves the replica count to it; a Job running the silo runs `migrate`;
/// the grace period outlasts the programs' own shutdown deadline.
/// </summary>
internal sealed class ManifestCheck(DeployPrograms programs, IReadOnlySet<string> serviceImages)
{
    private static readonly HashSet<string> Workloads = ["Deployment", "StatefulSet", "DaemonSet", "Job"];
    private readonly List<string> _problems = [];

    public IReadOnlyList<string> Check(IReadOnlyList<Dictionary<object, object?>> documents)
    {
        _problems.Clear();
        foreach (var document in documents)
        {
            if (document.String("apiVersion") is null || document.Kind() == "" || document.Name() == "")
            {
                Problem($"a document without apiVersion, kind or metadata.name: {string.Join(", ", document.Keys)}");
            }
        }

        foreach (var workload in documents.Where(document => Workloads.Contains(document.Kind())))
        {
            CheckWorkload(workload, documents);
        }

        foreach (var service in documents.Where(document => document.Kind() == "Service"))
        {
            CheckService(service, documents);
        }

        foreach (var budget in documents.Where(document => document.Kind() == "PodDisruptionBudget"))
        {
            if (!documents.Any(workload => Selects(budget.Path("spec", "selector").Map("matchLabels"), workload)))
            {
                Problem($"PodDisruptionBudget {budget.Name()}: its selector matches no workload's pods");
            }
        }

        foreach (var autoscaler in documents.Where(document => document.Kind() == "HorizontalPodAutoscaler"))
        {
            CheckAutoscaler(autoscaler, documents);
        }

        return [.. _problems];
    }

    /// <summary>What is wrong with these settings for this program (an environment file, say): the containers' rule alone.</summary>
    public IReadOnlyList<string> CheckSettings(ProgramImage program, Dictionary<string, string?> environment, string where)
    {
        _problems.Clear();
        CheckSettingsOf(program, environment, where);
        return [.. _problems];
    }

    /// <summary>The containers (init containers too) of a workload's pod template.</summary>
    public static IEnumerable<Dictionary<object, object?>> Containers(Dictionary<object, object?> document) =>
        document.Path("spec", "template", "spec") is { } pod ? pod.Maps("initContainers").Concat(pod.Maps("containers")) : [];

    /// <summary>An image reference's repository name without registry, path, tag or digest: registry/x/chihaya-silo:1.2 is chihaya-silo.</summary>
    public static string ImageRepository(string image)
    {
        var withoutDigest = image.Split('@')[0];
        var lastSegment = withoutDigest[(withoutDigest.LastIndexOf('/') + 1)..];
        return lastSegment.Split(':')[0];
    }

    private void Problem(string problem) => _problems.Add(problem);

    private void CheckWorkload(Dictionary<object, object?> workload, IReadOnlyList<Dictionary<object, object?>> documents)
    {
        var where = $"{workload.Kind()} {workload.Name()}";
        var pod = workload.Path("spec", "template", "spec");
        foreach (var container in Containers(workload))
        {
            var at = $"{where}, container {container.String("name")}";
            var image = container.String("image") ?? "";
            var repository = ImageRepository(image);
            if (!programs.Images.TryGetValue(repository, out var program))
            {
                if (!serviceImages.Contains(repository))
                {
                    Problem($"{at}: image '{image}' is none of deploy/containers/images ({string.Join(", ", programs.Images.Keys)}) nor an allowed service image");
                }

                continue;
            }

            var environment = Environment(container, documents, at);
            CheckSettingsOf(program, environment, at);
            if (workload.Kind() == "Job")
            {
                // A one-shot: it listens on nothing and is not probed.
                var args = container.Strings("args").ToList();
                if (container.Get("command") is not null || !program.IsSilo || args is not ["migrate"])
                {
                    Problem($"{at}: a Job runs the silo image with args [\"migrate\"] and no command, not {image} with [{string.Join(", ", args)}]");
                }

                continue;
            }

            var listening = ListeningPorts(program, environment);
            CheckPorts(program, container, listening, at);
            CheckProbes(program, container, listening, at);
            CheckGracePeriod(pod, container, at);
            if (program.IsSilo)
            {
                CheckClusterPortsFenced(workload, container, listening, documents, at);
            }
            else
            {
                CheckAdminPortPrivate(workload, container, environment, listening, documents, at);
            }
        }
    }

    /// <summary>
    /// A gateway behind a public Service (LoadBalancer, NodePort) keeps the admin API, the status page and /metrics on an
    /// admin port (Admin__Port) that no public Service carries: otherwise the token crosses the internet with every
    /// call, and anyone can try tokens.
    /// </summary>
    private void CheckAdminPortPrivate(
        Dictionary<object, object?> workload,
        Dictionary<object, object?> container,
        Dictionary<string, string?> environment,
        Dictionary<int, string> listening,
        IReadOnlyList<Dictionary<object, object?>> documents,
        string at)
    {
        var adminPort = int.TryParse(environment.GetValueOrDefault("Admin__Port"), NumberStyles.None, CultureInfo.InvariantCulture, out var port) ? port : 0;
        if (adminPort != 0 && listening.GetValueOrDefault(adminPort) != DeployPrograms.UrlsVariable)
        {
            // The gateway would refuse to start (AdminOptions.PortProblem): a crash loop.
            Problem($"{at}: Admin__Port {adminPort} is none of the ports in Urls ({Describe(listening)})");
        }

        var publicServices = documents
            .Where(document => document.Kind() == "Service" && document.Path("spec").String("type") is "LoadBalancer" or "NodePort" && Selects(document.Path("spec", "selector"), workload))
            .ToList();
        if (publicServices.Count == 0)
        {
            return;
        }

        if (adminPort == 0)
        {
            Problem($"{at}: the public Service {string.Join(", ", publicServices.Select(service => service.Name()))} reaches the admin API, the status page and /metrics: set Admin__Port to a port no public Service carries");
            return;
        }

        foreach (var service in publicServices)
        {
            if (service.Path("spec").Maps("ports").Any(servicePort => ResolvePort(container, servicePort.String("targetPort") ?? servicePort.String("port")) == adminPort))
            {
                Problem($"{at}: the public Service {service.Name()} carries the admin port {adminPort} (Admin__Port)");
            }
        }

        CheckAdminPortFenced(workload, container, adminPort, documents, at);
    }

    /// <summary>
    /// Inside the cluster too, only chosen pods reach the admin port: a NetworkPolicy must select the gateway's pods,
    /// and no ingress rule may open that port to every pod or address (no 'from', an ipBlock, or a namespaceSelector
    /// that picks every namespace). Pods of the policy's namespace (podSelector {}) and labelled namespaces may.
    /// </summary>
    private void CheckAdminPortFenced(Dictionary<object, object?> workload, Dictionary<object, object?> container, int adminPort, IReadOnlyList<Dictionary<object, object?>> documents, string at)
    {
        var policies = documents.Where(document => document.Kind() == "NetworkPolicy" && Selects(document.Path("spec", "podSelector").Map("matchLabels"), workload)).ToList();
        if (policies.Count == 0)
        {
            Problem($"{at}: no NetworkPolicy selects the gateway's pods, so any pod in the cluster can try tokens on the admin port {adminPort}");
        }

        foreach (var policy in policies)
        {
            foreach (var rule in policy.Path("spec")?.Maps("ingress") ?? [])
            {
                var entries = rule.Maps("ports").ToList();
                var opensAdminPort = entries.Count == 0 || entries.Any(entry => entry.String("port") is null || (ResolvePort(container, entry.String("port")) is { } from
                    && (int.TryParse(entry.String("endPort"), CultureInfo.InvariantCulture, out var to) ? adminPort >= from && adminPort <= to : adminPort == from)));
                var sources = rule.Maps("from").ToList();
                var anyone = sources.Count == 0 || sources.Any(source => source.Map("ipBlock") is not null
                    || (source.Map("namespaceSelector") is { } namespaces && namespaces.Map("matchLabels") is not { Count: > 0 } && namespaces.Get("matchExpressions") is null));
                if (opensAdminPort && anyone)
                {
                    Problem($"NetworkPolicy {policy.Name()}: an ingress rule lets any pod or address reach the gateway's admin port {adminPort}");
                }
            }
        }
    }

    /// <summary>
    /// A silo's cluster ports take Orleans calls from anyone who connects (any grain, the admin grain too, with no
    /// token): a NetworkPolicy must select the silo's pods, and no ingress rule may open those ports to every source.
    /// </summary>
    private void CheckClusterPortsFenced(
        Dictionary<object, object?> workload, Dictionary<object, object?> container, Dictionary<int, string> listening, IReadOnlyList<Dictionary<object, object?>> documents, string at)
    {
        var clusterPorts = listening.Where(entry => entry.Value != DeployPrograms.UrlsVariable).Select(entry => entry.Key).ToHashSet();
        var policies = documents.Where(document => document.Kind() == "NetworkPolicy" && Selects(document.Path("spec", "podSelector").Map("matchLabels"), workload)).ToList();
        if (policies.Count == 0)
        {
            Problem($"{at}: no NetworkPolicy selects the silo's pods, so anything that reaches ports {string.Join(", ", clusterPorts.Order())} can call its grains without the admin token");
        }

        foreach (var policy in policies)
        {
            foreach (var rule in policy.Path("spec")?.Maps("ingress") ?? [])
            {
                // No ports, or an entry without a port, is every port; endPort makes an entry a range.
                var entries = rule.Maps("ports").ToList();
                var open = entries.Count == 0 || entries.Any(entry => entry.String("port") is null)
                    ? clusterPorts
                    : clusterPorts.Where(port => entries.Any(entry => ResolvePort(container, entry.String("port")) is { } from
                        && (int.TryParse(entry.String("endPort"), CultureInfo.InvariantCulture, out var to) ? port >= from && port <= to : port == from)));
                // Only pods chosen by label are the tracker's own: no 'from', an ipBlock, or a namespaceSelector alone
                // (every pod of the namespaces it picks) lets others in.
                var sources = rule.Maps("from").ToList();
                var anyone = sources.Count == 0 || sources.Any(source => source.Map("podSelector") is not { Count: > 0 } selector || selector.Map("matchLabels") is not { Count: > 0 });
                if (anyone && open.Any())
                {
                    Problem($"NetworkPolicy {policy.Name()}: an ingress rule lets sources other than the tracker's pods reach the silo's port {string.Join(", ", open.Order())}");
                }
            }
        }
    }

    /// <summary>The container's environment: its env entries (a value, or "(from …)"), then its envFrom sources' keys.</summary>
    private Dictionary<string, string?> Environment(Dictionary<object, object?> container, IReadOnlyList<Dictionary<object, object?>> documents, string at)
    {
        var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (var source in container.Maps("envFrom"))
        {
            var (kind, reference) = source.Map("configMapRef") is { } configMap ? ("ConfigMap", configMap) : ("Secret", source.Map("secretRef"));
            var name = reference.String("name");
            var found = documents.FirstOrDefault(document => document.Kind() == kind && document.Name() == name);
            if (found is null)
            {
                Problem($"{at}: envFrom names {kind} {name}, which the manifests do not define");
                continue;
            }

            foreach (var (key, value) in found.Map("data").StringMap())
            {
                environment[key] = kind == "ConfigMap" ? value : null;
            }
        }

        foreach (var variable in container.Maps("env"))
        {
            var name = variable.String("name") ?? "";
            environment[name] = variable.String("value");
            if (variable.Path("valueFrom", "secretKeyRef") is { } secretKey)
            {
                var secret = documents.FirstOrDefault(document => document.Kind() == "Secret" && document.Name() == secretKey.String("name"));
                // The base leaves the Secret to the operator; where the manifests do define it, the key must be in it
                // unless the reference is optional (a key only some operators need).
                if (secret is not null && !string.Equals(secretKey.String("optional"), "true", StringComparison.OrdinalIgnoreCase) && !secret.Map("data").StringMap().ContainsKey(secretKey.String("key") ?? ""))
                {
                    Problem($"{at}: {name} reads key '{secretKey.String("key")}' of Secret {secret.Name()}, which has no such key");
                }
            }
        }

        return environment;
    }

    /// <summary>Every variable must be a setting the program reads (Section__Property[__index]) with a value of its type.</summary>
    private void CheckSettingsOf(ProgramImage program, Dictionary<string, string?> environment, string at)
    {
        var kubernetesHosting = program.IsSilo && string.Equals(environment.GetValueOrDefault("Cluster__Kubernetes"), "true", StringComparison.OrdinalIgnoreCase);
        foreach (var (name, value) in environment)
        {
            if (name == DeployPrograms.UrlsVariable || name.StartsWith("Logging__", StringComparison.Ordinal)
                || (kubernetesHosting && DeployPrograms.KubernetesHostingVariables.Contains(name)))
            {
                continue;
            }

            if (DeployPrograms.KubernetesHostingVariables.Contains(name))
            {
                Problem($"{at}: {name} is read only by a silo with Cluster__Kubernetes=true");
                continue;
            }

            var parts = name.Split("__");
            if (parts.Length < 2 || !program.Sections.TryGetValue(parts[0], out var options))
            {
                Problem($"{at}: {name} is not a setting {program.Dll} reads (its sections: {string.Join(", ", program.Sections.Keys.Order())})");
                continue;
            }

            var property = options.GetProperties().FirstOrDefault(candidate => candidate.CanWrite && string.Equals(candidate.Name, parts[1], StringComparison.OrdinalIgnoreCase));
            if (property is null)
            {
                Problem($"{at}: {name}: {options.Name} has no property {parts[1]} (section {parts[0]})");
                continue;
            }

            var type = property.PropertyType;
            var elementType = type != typeof(string) && typeof(IEnumerable).IsAssignableFrom(type)
                ? type.IsArray ? type.GetElementType()! : type.GetGenericArguments().Single()
                : null;
            var expectedParts = elementType is null ? 2 : 3;
            if (parts.Length != expectedParts || (elementType is not null && !int.TryParse(parts[2], CultureInfo.InvariantCulture, out _)))
            {
                Problem($"{at}: {name}: {parts[0]}:{property.Name} is {(elementType is null ? "a single value" : "a list: name its items " + parts[0] + "__" + property.Name + "__0, __1, ...")}");
                continue;
            }

            if (value is not null)
            {
                var valueType = elementType ?? type;
                try
                {
                    TypeDescriptor.GetConverter(valueType).ConvertFromInvariantString(value);
                }
                catch (Exception exception) when (exception is FormatException or NotSupportedException or ArgumentException or OverflowException)
                {
                    Problem($"{at}: {name}={value} is not a {valueType.Name}");
                }
            }
        }
    }

    /// <summary>The ports the program listens on with this environment: Urls, and for a silo its Orleans ports.</summary>
    private Dictionary<int, string> ListeningPorts(ProgramImage program, Dictionary<string, string?> environment)
    {
        var ports = new Dictionary<int, string>();
        if (environment.GetValueOrDefault(DeployPrograms.UrlsVariable) is { } urls)
        {
            foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries))
            {
                ports[BindingAddress.Parse(url).Port] = DeployPrograms.UrlsVariable;
            }
        }
        else
        {
            Problem($"{program.Image}: the manifests must set Urls, so the HTTP port the probes use is written down once");
        }

        var embedded = !program.IsSilo && !string.Equals(environment.GetValueOrDefault("Cluster__Mode"), ClusterModes.Client, StringComparison.OrdinalIgnoreCase);
        if (program.IsSilo || embedded)
        {
            var defaults = new TrackerClusterOptions();
            ports[int.Parse(environment.GetValueOrDefault("Cluster__SiloPort") ?? defaults.SiloPort.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)] = "Cluster__SiloPort";
            ports[int.Parse(environment.GetValueOrDefault("Cluster__GatewayPort") ?? defaults.GatewayPort.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture)] = "Cluster__GatewayPort";
        }

        return ports;
    }

    private void CheckPorts(ProgramImage program, Dictionary<object, object?> container, Dictionary<int, string> listening, string at)
    {
        var declared = container.Maps("ports").Select(port => int.Parse(port.String("containerPort") ?? "0", CultureInfo.InvariantCulture)).ToHashSet();
        foreach (var port in declared.Where(port => !listening.ContainsKey(port)))
        {
            Problem($"{at}: containerPort {port} is none of the ports {program.Dll} listens on here ({Describe(listening)})");
        }

        foreach (var (port, setting) in listening.Where(entry => !declared.Contains(entry.Key)))
        {
            Problem($"{at}: the program listens on {port} ({setting}) but the container does not declare it");
        }

        foreach (var port in declared.Where(port => !program.ExposedPorts.Contains(port)))
        {
            Problem($"{at}: containerPort {port} is not EXPOSEd by the {program.Image} Dockerfile ({string.Join(" ", program.ExposedPorts)})");
        }

        if (program.HealthCheck is { } check && (!DeployPrograms.ProbePaths.Contains(check.Path) || !listening.ContainsKey(check.Port)))
        {
            Problem($"{program.Image} Dockerfile: HEALTHCHECK asks {check.Port}{check.Path}, not a probe path on a port the program listens on ({Describe(listening)})");
        }
    }

    private void CheckProbes(ProgramImage program, Dictionary<object, object?> container, Dictionary<int, string> listening, string at)
    {
        foreach (var kind in new[] { "livenessProbe", "readinessProbe", "startupProbe" })
        {
            var probe = container.Map(kind);
            if (probe is null)
            {
                if (kind != "startupProbe")
                {
                    Problem($"{at}: no {kind}");
                }

                continue;
            }

            var get = probe.Map("httpGet");
            if (get is null)
            {
                Problem($"{at}: {kind} is not an httpGet of {string.Join(" or ", DeployPrograms.ProbePaths)}");
                continue;
            }

            var path = get.String("path") ?? "/";
            if (!DeployPrograms.ProbePaths.Contains(path))
            {
                Problem($"{at}: {kind} asks {path}, which {program.Dll} does not serve (probe paths: {string.Join(", ", DeployPrograms.ProbePaths)})");
            }

            var port = ResolvePort(container, get.String("port"));
            if (port is null || !listening.ContainsKey(port.Value) || listening[port.Value] != DeployPrograms.UrlsVariable)
            {
                Problem($"{at}: {kind} port {get.String("port")} is not the program's HTTP port ({Describe(listening)})");
            }
        }
    }

    /// <summary>The pod's grace must outlast the preStop sleep plus the moment the program ends itself (ShutdownDeadline).</summary>
    private void CheckGracePeriod(Dictionary<object, object?>? pod, Dictionary<object, object?> container, string at)
    {
        var grace = int.Parse(pod.String("terminationGracePeriodSeconds") ?? "30", CultureInfo.InvariantCulture);
        var preStop = container.Path("lifecycle", "preStop", "exec").Strings("command").ToList() is ["sleep", var seconds] ? int.Parse(seconds, CultureInfo.InvariantCulture) : 0;
        var needed = preStop + ShutdownDeadline.ProcessEndsAfter.TotalSeconds;
        if (grace <= needed)
        {
            Problem($"{at}: terminationGracePeriodSeconds {grace} does not outlast preStop {preStop} s + the program's own deadline {ShutdownDeadline.ProcessEndsAfter.TotalSeconds} s");
        }
    }

    private void CheckService(Dictionary<object, object?> service, IReadOnlyList<Dictionary<object, object?>> documents)
    {
        var selector = service.Path("spec", "selector");
        var selected = documents.Where(workload => Workloads.Contains(workload.Kind()) && Selects(selector, workload)).ToList();
        if (selected.Count == 0)
        {
            Problem($"Service {service.Name()}: its selector matches no workload's pods");
        }

        foreach (var port in service.Path("spec").Maps("ports"))
        {
            var target = port.String("targetPort") ?? port.String("port");
            foreach (var workload in selected)
            {
                if (!Containers(workload).Any(container => ResolvePort(container, target) is { } number && container.Maps("ports").Any(declared => declared.String("containerPort") == number.ToString(CultureInfo.InvariantCulture))))
                {
                    Problem($"Service {service.Name()}: targetPort {target} is no container port of {workload.Kind()} {workload.Name()}");
                }
            }
        }
    }

    private void CheckAutoscaler(Dictionary<object, object?> autoscaler, IReadOnlyList<Dictionary<object, object?>> documents)
    {
        var target = autoscaler.Path("spec", "scaleTargetRef");
        var workload = documents.FirstOrDefault(document => document.Kind() == target.String("kind") && document.Name() == target.String("name"));
        if (workload is null)
        {
            Problem($"HorizontalPodAutoscaler {autoscaler.Name()}: its target {target.String("kind")} {target.String("name")} is not in the manifests");
            return;
        }

        if (workload.Map("spec").Get("replicas") is not null)
        {
            Problem($"HorizontalPodAutoscaler {autoscaler.Name()}: {workload.Kind()} {workload.Name()} sets replicas, which every apply would reset under the autoscaler");
        }

        var usesCpu = autoscaler.Path("spec").Maps("metrics").Any(metric => metric.Path("resource").String("name") == "cpu");
        if (usesCpu && Containers(workload).Any(container => container.Path("resources", "requests").String("cpu") is null))
        {
            Problem($"HorizontalPodAutoscaler {autoscaler.Name()}: scales on CPU, but a container of {workload.Name()} requests no CPU to measure it against");
        }
    }

    private static bool Selects(Dictionary<object, object?>? selector, Dictionary<object, object?> workload)
    {
        var labels = workload.Path("spec", "template", "metadata", "labels").StringMap();
        var wanted = selector.StringMap();
        return wanted.Count > 0 && wanted.All(entry => labels.TryGetValue(entry.Key, out var value) && value == entry.Value);
    }

    /// <summary>A port given by number or by the name of one of the container's ports.</summary>
    private static int? ResolvePort(Dictionary<object, object?> container, string? port)
    {
        if (int.TryParse(port, CultureInfo.InvariantCulture, out var number))
        {
            return number;
        }

        var named = container.Maps("ports").FirstOrDefault(candidate => candidate.String("name") == port);
        return named is null ? null : int.Parse(named.String("containerPort")!, CultureInfo.InvariantCulture);
    }

    private static string Describe(Dictionary<int, string> listening) =>
        string.Join(", ", listening.Select(entry => $"{entry.Key} from {entry.Value}"));
}
