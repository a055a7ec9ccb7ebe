using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Chihaya.Orleans.Gateway.Hosting;
using Chihaya.Orleans.Grains.Interfaces;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Chihaya.Orleans.TestSupport;

/// <summary>
/// The embedded tracker (gateway and silo in one process) listening on a real loopback socket, exactly
/// as the README's run command starts it, but on free ports and with fast timers for tests.
/// </summary>
public sealed class TrackerHost : IAsyncDisposable
{
    private readonly WebApplication _app;

    private TrackerHost(WebApplication app, Uri baseAddress, Uri adminAddress, string adminToken)
    {
        _app = app;
        BaseAddress = baseAddress;
        AdminAddress = adminAddress;
        AdminToken = adminToken;
        Http = new HttpClient { BaseAddress = baseAddress };
        Admin = new HttpClient { BaseAddress = adminAddress };
        Admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", adminToken);
    }

    public Uri BaseAddress { get; }

    /// <summary>Where the admin API answers: <see cref="BaseAddress"/>, or the admin port when the host has one.</summary>
    public Uri AdminAddress { get; }

    public string AdminToken { get; }

    /// <summary>A client with no credentials, as a torrent client would be.</summary>
    public HttpClient Http { get; }

    /// <summary>A client that sends the admin token.</summary>
    public HttpClient Admin { get; }

    public IServiceProvider Services => _app.Services;

    /// <summary>Starts the embedded tracker on a free loopback port.</summary>
    /// <param name="settings">Configuration on top of the test defaults.</param>
    /// <param name="host">The address to listen on.</param>
    /// <param name="configure">Changes to the builder before the tracker is added (logging, services).</param>
    /// <param name="clock">The tracker's clock; a fake one lets a test move time (timeouts, pruning) instead of waiting.</param>
    /// <param name="separateAdminPort">Listen on a second port and keep the admin API there (Admin:Port).</param>
    public static async Task<TrackerHost> StartAsync(IReadOnlyDictionary<string, string?>? settings = null, string host = "127.0.0.1", Action<WebApplicationBuilder>? configure = null, TimeProvider? clock = null, bool separateAdminPort = false)
    {
        var adminToken = Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
        int? adminPort = separateAdminPort ? FreePorts.Next() : null;
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(TrackerGatewayExtensions).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            EnvironmentName = "Testing",
        });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Cluster:SiloPort"] = FreePorts.Next().ToString(),
            ["Cluster:GatewayPort"] = FreePorts.Next().ToString(),
            ["Admin:Token"] = adminToken,
            ["Site:SeedFile"] = "",
            ["Stats:FlushInterval"] = "00:00:00.100",
            ["Admin:Port"] = adminPort?.ToString(System.Globalization.CultureInfo.InvariantCulture),
        });
        if (settings is not null)
        {
            builder.Configuration.AddInMemoryCollection(settings);
        }

        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        if (clock is not null)
        {
            builder.Services.AddSingleton(clock);
        }

        configure?.Invoke(builder);
        builder.WebHost.UseUrls(adminPort is { } port ? $"http://{host}:{FreePorts.Next()};http://{host}:{port}" : $"http://{host}:0");
        builder.AddTrackerGateway();
        var app = builder.Build();
        app.MapTracker();
        await app.StartAsync();
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.Select(address => new Uri(address)).ToList();
        var announces = addresses.First(address => address.Port != adminPort);
        return new TrackerHost(app, announces, addresses.FirstOrDefault(address => address.Port == adminPort) ?? announces, adminToken);
    }

    /// <summary>
    /// GETs <paramref name="pathAndQuery"/> byte for byte (Uri would otherwise decode <c>%41</c> to <c>A</c> or
    /// repair a broken escape before it leaves) and expects HTTP 200, as every tracker reply is.
    /// </summary>
    public async Task<byte[]> GetBytesAsync(string pathAndQuery)
    {
        // One leading slash only: a path such as //announce is sent as it is written.
        var relative = pathAndQuery.StartsWith('/') ? pathAndQuery[1..] : pathAndQuery;
        var exact = new Uri($"{BaseAddress}{relative}", new UriCreationOptions { DangerousDisablePathAndQueryCanonicalization = true });
        using var response = await Http.GetAsync(exact);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadAsByteArrayAsync();
    }

    public async Task<Dictionary<string, object>> GetBencodeAsync(string pathAndQuery) =>
        Bencode.DecodeDictionary(await GetBytesAsync(pathAndQuery));

    public async Task PutUserAsync(string passkey, long id, decimal upload = 1m, decimal download = 1m, bool canLeech = true)
    {
        using var response = await Admin.PutAsJsonAsync($"/admin/users/{passkey}", new { id, uploadMultiplier = upload, downloadMultiplier = download, canLeech });
        Assert.Equal(System.Net.HttpStatusCode.NoContent, response.StatusCode);
    }

    public async Task PutTorrentAsync(byte[] infoHash, long id, decimal upload = 1m, decimal download = 1m, string status = "active", string? reason = null)
    {
        using var response = await Admin.PutAsJsonAsync($"/admin/torrents/{Convert.ToHexStringLower(infoHash)}", new { id, status, reason, uploadMultiplier = upload, downloadMultiplier = download });
        Assert.Equal(System.Net.HttpStatusCode.NoContent, response.StatusCode);
    }

    public async Task<JsonElement> GetAdminAsync(string path)
    {
        using var response = await Admin.GetAsync(path);
        Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    /// <summary>
    /// Polls the admin API until <paramref name="condition"/> holds (statistics arrive after a flush), then
    /// settles the tracker and reads again, so a late duplicate would show in the answer.
    /// </summary>
    public async Task<JsonElement> WaitForAdminAsync(string path, Func<JsonElement, bool> condition, TimeSpan? timeout = null)
    {
        await Eventually.ValueAsync(() => GetAdminAsync(path), condition, timeout);
        await SettleAsync();
        return await GetAdminAsync(path);
    }

    /// <summary>
    /// Writes everything the tracker has accounted and not yet written: every active swarm flushes its peers and
    /// statistics to the site. Afterwards the site holds every announce so far, with no waiting on timers.
    /// </summary>
    public async Task SettleAsync()
    {
        var grains = Services.GetRequiredService<IGrainFactory>();
        var activations = await grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics();
        var keys = activations.Select(activation => activation.GrainId).ToList();
        foreach (var torrent in keys.Where(id => id.Type.ToString() == "torrent"))
        {
            await grains.GetGrain<ITorrentGrain>(torrent.Key.ToString()!).FlushUsage();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        Admin.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
