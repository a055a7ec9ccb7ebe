using System.Reflection;
using System.Text.RegularExpressions;
using Chihaya.Orleans.Grains.Health;
using Chihaya.Orleans.TestSupport;
using Microsoft.AspNetCore.Hosting;
using Orleans.Hosting.Kubernetes;

namespace Chihaya.Orleans.Integration.Tests.Deploy;

/// <summary>One of our programs as a container runs it: what it reads from the environment and what it serves.</summary>
/// <param name="Image">The image name, as deploy/containers/images lists it.</param>
/// <param name="Dll">The ENTRYPOINT's assembly, e.g. Chihaya.Orleans.Silo.dll.</param>
/// <param name="Sections">The configuration sections it binds, each to its options class.</param>
/// <param name="ExposedPorts">The Dockerfile's EXPOSE ports.</param>
/// <param name="HealthCheck">The Dockerfile's HEALTHCHECK request: port and path.</param>
internal sealed record ProgramImage(
    string Image,
    string Dll,
    IReadOnlyDictionary<string, Type> Sections,
    IReadOnlySet<int> ExposedPorts,
    (int Port, string Path)? HealthCheck)
{
    public bool IsSilo => Dll == "Chihaya.Orleans.Silo.dll";
}

/// <summary>
/// What the manifests are checked against, read from the code and the Dockerfiles rather than listed again: the images
/// of deploy/containers/images, each program's options classes (every type with a <c>Section</c> constant in the
/// program's own assemblies), the probe paths (<see cref="HealthEndpoints"/>), the settings the host itself reads
/// (<c>Urls</c>, <c>Logging</c>) and the downward-API variables of Orleans' Kubernetes hosting.
/// </summary>
internal sealed partial class DeployPrograms
{
    private DeployPrograms(IReadOnlyDictionary<string, ProgramImage> images) => Images = images;

    /// <summary>By image name.</summary>
    public IReadOnlyDictionary<string, ProgramImage> Images { get; }

    /// <summary>Paths both programs serve for probes.</summary>
    public static IReadOnlySet<string> ProbePaths { get; } = typeof(HealthEndpoints)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(field => field.IsLiteral)
        .Select(field => (string)field.GetRawConstantValue()!)
        .ToHashSet(StringComparer.Ordinal);

    /// <summary>Set by the downward API for Orleans' Kubernetes hosting, read by the silo when Cluster:Kubernetes is on.</summary>
    public static IReadOnlySet<string> KubernetesHostingVariables { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        KubernetesHostingOptions.PodNameEnvironmentVariable,
        KubernetesHostingOptions.PodNamespaceEnvironmentVariable,
        KubernetesHostingOptions.PodIPEnvironmentVariable,
    };

    /// <summary>The host's own settings: where Kestrel listens (<c>Urls</c>) and log levels.</summary>
    public static string UrlsVariable { get; } = WebHostDefaults.ServerUrlsKey[..1].ToUpperInvariant() + WebHostDefaults.ServerUrlsKey[1..];

    public static DeployPrograms FromRepository()
    {
        var root = RepositoryPaths.Root;
        var images = new Dictionary<string, ProgramImage>(StringComparer.Ordinal);
        foreach (var line in File.ReadAllLines(System.IO.Path.Combine(root, "deploy", "containers", "images")))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 0 || fields[0].StartsWith('#'))
            {
                continue;
            }

            var dockerfile = File.ReadAllText(System.IO.Path.Combine(root, fields[1]));
            var dll = EntryPoint().Match(dockerfile) is { Success: true } entry ? entry.Groups["dll"].Value
                : throw new InvalidDataException($"{fields[1]}: no ENTRYPOINT [\"dotnet\", \"....dll\"]");
            var exposed = Expose().Matches(dockerfile).SelectMany(match => match.Groups["ports"].Value.Split(' ', StringSplitOptions.RemoveEmptyEntries)).Select(int.Parse).ToHashSet();
            (int, string)? healthCheck = HealthCheck().Match(dockerfile) is { Success: true } check
                ? (int.Parse(check.Groups["port"].Value), check.Groups["path"].Value)
                : null;
            images[fields[0]] = new ProgramImage(fields[0], dll, SectionsOf(dll), exposed, healthCheck);
        }

        return new DeployPrograms(images);
    }

    /// <summary>Every options section in the program's own assemblies (Chihaya.Orleans.*), from its build output.</summary>
    private static Dictionary<string, Type> SectionsOf(string dll)
    {
        var project = dll["Chihaya.Orleans.".Length..^".dll".Length];
        var configuration = AppContext.BaseDirectory.Contains($"{System.IO.Path.DirectorySeparatorChar}Debug{System.IO.Path.DirectorySeparatorChar}") ? "Debug" : "Release";
        var path = System.IO.Path.Combine(RepositoryPaths.Root, project, "bin", configuration, "net10.0", dll);
        var entry = AppDomain.CurrentDomain.GetAssemblies().FirstOrDefault(assembly => assembly.GetName().Name + ".dll" == dll) ?? Assembly.LoadFrom(path);

        var sections = new Dictionary<string, Type>(StringComparer.OrdinalIgnoreCase);
        var seen = new HashSet<string>();
        var pending = new Queue<Assembly>([entry]);
        while (pending.TryDequeue(out var assembly))
        {
            if (!seen.Add(assembly.GetName().Name!))
            {
                continue;
            }

            foreach (var type in assembly.GetTypes())
            {
                if (type.GetField("Section", BindingFlags.Public | BindingFlags.Static) is { IsLiteral: true } field && field.GetRawConstantValue() is string section)
                {
                    sections[section] = type;
                }
            }

            foreach (var reference in assembly.GetReferencedAssemblies().Where(name => name.Name!.StartsWith("Chihaya.Orleans.", StringComparison.Ordinal)))
            {
                pending.Enqueue(Assembly.Load(reference));
            }
        }

        return sections;
    }

    [GeneratedRegex("""^ENTRYPOINT \["dotnet", "(?<dll>[^"]+\.dll)"\]""", RegexOptions.Multiline)]
    private static partial Regex EntryPoint();

    [GeneratedRegex(@"^EXPOSE (?<ports>[0-9 ]+)$", RegexOptions.Multiline)]
    private static partial Regex Expose();

    [GeneratedRegex(@"^HEALTHCHECK .*?/dev/tcp/[0-9.]+/(?<port>[0-9]+).*?GET (?<path>/\S*) HTTP", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex HealthCheck();
}
