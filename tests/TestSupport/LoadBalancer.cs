using System.Net.Sockets;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// Debian's nginx in front of gateway processes, on loopback, configured from the repository's own
/// <c>deploy/nginx/local.conf.template</c> (the one <c>deploy/local/cluster.sh</c> uses), so the tests go through the
/// load balancer operators run.
/// </summary>
public sealed class LoadBalancer : IAsyncDisposable
{
    private const string Nginx = "/usr/sbin/nginx";

    private readonly DirectoryInfo _folder;

    private LoadBalancer(ProjectProcess process, DirectoryInfo folder, int port)
    {
        Process = process;
        _folder = folder;
        Port = port;
    }

    public ProjectProcess Process { get; }

    /// <summary>The port clients announce to.</summary>
    public int Port { get; }

    /// <summary>What nginx logged (upstreams it gave up on, say), for a failing test's message.</summary>
    public string ErrorLog
    {
        get
        {
            var path = Path.Combine(_folder.FullName, "error.log");
            return File.Exists(path) ? File.ReadAllText(path) : "";
        }
    }

    public static async Task<LoadBalancer> StartAsync(IReadOnlyList<int> gatewayPorts)
    {
        if (!OperatingSystem.IsLinux() || !File.Exists(Nginx))
        {
            throw new InvalidOperationException($"{Nginx} is missing: run the tests with ./test.sh, which installs Debian's nginx-light.");
        }

        var folder = Directory.CreateTempSubdirectory("chihaya-nginx-");
        foreach (var temp in new[] { "body", "proxy", "fastcgi", "uwsgi", "scgi" })
        {
            // Writable by nginx's workers whichever user they run as (nobody, when the tests run as root).
            var path = Directory.CreateDirectory(Path.Combine(folder.FullName, "tmp", temp)).FullName;
            File.SetUnixFileMode(path, (UnixFileMode)0b111_111_111);
        }

        var port = FreePorts.Next();
        var template = await File.ReadAllTextAsync(Path.Combine(RepositoryPaths.Root, "deploy", "nginx", "local.conf.template"));
        var config = Path.Combine(folder.FullName, "nginx.conf");
        await File.WriteAllTextAsync(config, template
            .Replace("@PREFIX@", folder.FullName, StringComparison.Ordinal)
            .Replace("@LISTEN_PORT@", port.ToString(), StringComparison.Ordinal)
            .Replace("@PROXY_CONF@", Path.Combine(RepositoryPaths.Root, "deploy", "nginx", "chihaya-proxy.conf"), StringComparison.Ordinal)
            .Replace("@UPSTREAM_SERVERS@", string.Join('\n', gatewayPorts.Select(p => $"        server 127.0.0.1:{p} max_fails=1 fail_timeout=1s;")), StringComparison.Ordinal));

        var process = ProjectProcess.StartProgram("nginx", Nginx, "-p", folder.FullName, "-c", config, "-e", Path.Combine(folder.FullName, "error.log"));
        var balancer = new LoadBalancer(process, folder, port);
        var listening = await Eventually.ValueAsync(
            async () =>
            {
                using var socket = new TcpClient();
                try
                {
                    await socket.ConnectAsync("127.0.0.1", port);
                    return true;
                }
                catch (SocketException)
                {
                    return false;
                }
            },
            up => up || process.HasExited,
            TimeSpan.FromSeconds(20));
        if (!listening)
        {
            await balancer.DisposeAsync();
            throw new InvalidOperationException($"nginx did not listen on {port}: {process.Output}\n{balancer.ErrorLog}");
        }

        return balancer;
    }

    public async ValueTask DisposeAsync()
    {
        await Process.DisposeAsync();
        _folder.Delete(recursive: true);
    }
}
