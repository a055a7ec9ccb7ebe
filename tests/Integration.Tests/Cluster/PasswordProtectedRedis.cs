using Chihaya.Orleans.TestSupport;

namespace Chihaya.Orleans.Integration.Tests.Cluster;

/// <summary>A Redis server of one test's own that asks for a password (the shared one asks for none), on loopback.</summary>
internal sealed class PasswordProtectedRedis : IAsyncDisposable
{
    private readonly ProjectProcess _server;

    private PasswordProtectedRedis(ProjectProcess server, int port)
    {
        _server = server;
        Address = $"127.0.0.1:{port}";
    }

    /// <summary>Host and port, for <c>Cluster:Redis</c>.</summary>
    public string Address { get; }

    public static async Task<PasswordProtectedRedis> StartAsync(string password)
    {
        var port = FreePorts.Next();
        // No persistence and logs to standard output, which the test keeps.
        var server = ProjectProcess.StartProgram(
            "redis-server", "redis-server", "--port", port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--requirepass", password);
        try
        {
            await server.WaitForOutputAsync("Ready to accept connections", TimeSpan.FromSeconds(30));
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }

        return new PasswordProtectedRedis(server, port);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
