using System.Collections.Concurrent;
using System.Collections.Immutable;
using Chihaya.Orleans.Gateway.Protocol;
using Chihaya.Orleans.Grains.Interfaces.Options;
using Chihaya.Orleans.Grains.Site;
using Chihaya.Orleans.Grains.Torrents;
using Chihaya.Orleans.TestSupport;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using static Chihaya.Orleans.TestSupport.Replies;

namespace Chihaya.Orleans.Integration.Tests.Http;

/// <summary>Behaviour that needs its own tracker: other timeouts, other addresses, other trust settings.</summary>
public sealed class DedicatedHostTests
{
    [Fact]
    public async Task SilentPeers_ArePrunedByTheGrainWithoutAnyRequest()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await TrackerHost.StartAsync(clock: clock);
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        await peer.AnnounceAsync(host, 0, 0, 0, "started");
        var path = $"/admin/torrents/{Convert.ToHexStringLower(hash)}";
        var options = host.Services.GetRequiredService<IOptions<TrackerOptions>>().Value;

        clock.Advance(options.PeerTimeout - options.PruneInterval);
        // Read once the swarm sweeper has finished a tick at the new time, so a prune that came too early would show.
        var sweeper = host.Services.GetRequiredService<SwarmSweeper>();
        var advancedTo = clock.GetUtcNow().ToUnixTimeMilliseconds();
        Assert.True(await Eventually.ValueAsync(() => Task.FromResult(sweeper.SweptUpTo >= advancedTo), swept => swept), "the sweeper ticked at the new time");
        var beforeTimeout = await host.GetAdminAsync(path);
        clock.Advance(options.PruneInterval);
        // The prune timer runs on the grain's scheduler after the clock moved: wait for its work, moving on one prune period a poll.
        var afterTimeout = await Eventually.ValueAsync(
            async () =>
            {
                clock.Advance(options.PruneInterval);
                return await host.GetAdminAsync(path);
            },
            d => d.GetProperty("seeders").GetInt32() == 0);

        Assert.Equal(1, beforeTimeout.GetProperty("seeders").GetInt32());
        Assert.Equal(0, afterTimeout.GetProperty("seeders").GetInt32());
        // Traffic a pruned peer reports later cannot be told apart from a new session: it is a new baseline, accepted.
        var late = await peer.AnnounceAsync(host, 5000, 0, 0);
        await host.SettleAsync();
        Assert.Null(FailureReason(late));
        Assert.Equal(1, Integer(late, "complete"));
        Assert.Equal(0, (await host.GetAdminAsync($"/admin/users/{passkey}")).GetProperty("stats").GetProperty("rawUploaded").GetInt64());
        // Credited from there on. (The clock is the test's: no flush comes unless asked for.)
        await peer.AnnounceAsync(host, 5100, 0, 0);
        await host.SettleAsync();
        Assert.Equal(100, (await host.GetAdminAsync($"/admin/users/{passkey}")).GetProperty("stats").GetProperty("rawUploaded").GetInt64());
    }

    [Fact]
    public async Task AdminPort_KeepsTheAdminApiStatusAndMetricsOffTheAnnouncePort_WhateverTheHostHeaderSays()
    {
        await using var host = await TrackerHost.StartAsync(separateAdminPort: true);
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);
        using var outside = new HttpClient { BaseAddress = host.BaseAddress };
        outside.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", host.AdminToken);

        // A deletion through the announce port, with the right token and a Host header naming the admin port: refused
        // with a status no site takes for "no such user" (404 would pass for a revocation done).
        using (var request = new HttpRequestMessage(HttpMethod.Delete, $"/admin/users/{passkey}"))
        {
            request.Headers.Host = $"127.0.0.1:{host.AdminAddress.Port}";
            using var response = await outside.SendAsync(request);
            Assert.Equal(System.Net.HttpStatusCode.MisdirectedRequest, response.StatusCode);
        }

        var reply = await new Announcer(passkey, hash, UrlBytes.Random20()).AnnounceAsync(host, 0, 0, 10, "started");
        Assert.Null(FailureReason(reply));
        foreach (var path in new[] { $"/admin/users/{passkey}", "/status", "/status/assets/status.js", "/status/data", "/metrics" })
        {
            using var fromOutside = await outside.GetAsync(path);
            using var fromAdminPort = await host.Admin.GetAsync(path);
            Assert.Equal((path, System.Net.HttpStatusCode.MisdirectedRequest, System.Net.HttpStatusCode.OK), (path, fromOutside.StatusCode, fromAdminPort.StatusCode));
        }

        // Methods the paths do not take, in any case: refused the same way, not a 405 listing what they take.
        foreach (var (method, path) in new[] { (HttpMethod.Post, "/status"), (HttpMethod.Options, $"/ADMIN/users/{passkey}"), (HttpMethod.Head, "/status/data"), (HttpMethod.Patch, "/admin/torrents/00") })
        {
            using var response = await outside.SendAsync(new HttpRequestMessage(method, path));
            Assert.Equal((method, path, System.Net.HttpStatusCode.MisdirectedRequest), (method, path, response.StatusCode));
        }

        // Probes and load balancers still find the announce port's health.
        using var health = await host.Http.GetAsync("/healthz");
        Assert.Equal(System.Net.HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task Announce_OverIPv6_ComesBackInPeers6()
    {
        await using var host = await TrackerHost.StartAsync(host: "[::1]");
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);
        await new Announcer(passkey, hash, UrlBytes.Random20(), 6001).AnnounceAsync(host, 0, 0, 0, "started");

        var reply = await new Announcer(passkey, hash, UrlBytes.Random20(), 6002).AnnounceAsync(host, 0, 0, 10, "started");

        Assert.Empty((byte[])reply["peers"]);
        Assert.Equal("[::1]:6001", Assert.Single(CompactPeers(reply)).ToString());
    }

    [Fact]
    public async Task Announce_BehindTrustedProxyRange_UsesForwardedAddress()
    {
        // A range, as operators list a proxy tier: the test's own 127.0.0.1 and the 127.0.0.2 hop are both in it.
        await using var host = await TrackerHost.StartAsync(new Dictionary<string, string?> { ["Gateway:TrustedProxies:0"] = "127.0.0.0/8" });
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Announcer(passkey, hash, UrlBytes.Random20(), 7001).Url(0, 0, 0, "started")))
        {
            request.Headers.Add("X-Forwarded-For", "198.51.100.7, 127.0.0.2");
            using var response = await host.Http.SendAsync(request);
        }

        using (var request = new HttpRequestMessage(HttpMethod.Get, new Announcer(passkey, hash, UrlBytes.Random20(), 7002).Url(0, 0, 0, "started")))
        {
            request.Headers.Add("X-Real-IP", "2001:db8::9");
            using var response = await host.Http.SendAsync(request);
        }

        var reply = await new Announcer(passkey, hash, UrlBytes.Random20(), 7003).AnnounceAsync(host, 0, 0, 10, "started");

        var peers = CompactPeers(reply).Select(p => p.ToString()).Order().ToList();
        Assert.Equal(["198.51.100.7:7001", "[2001:db8::9]:7002"], peers);
    }

    [Fact]
    public async Task Announce_ForwardedHeaderFromUntrustedSender_IsIgnored()
    {
        await using var host = await TrackerHost.StartAsync();
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);
        using (var request = new HttpRequestMessage(HttpMethod.Get, new Announcer(passkey, hash, UrlBytes.Random20(), 7001).Url(0, 0, 0, "started", "ip=203.0.113.5")))
        {
            request.Headers.Add("X-Forwarded-For", "198.51.100.7");
            using var response = await host.Http.SendAsync(request);
            var first = Bencode.DecodeDictionary(await response.Content.ReadAsByteArrayAsync());
            Assert.Equal(Gateway.Protocol.TrackerFailure.IgnoredAddressWarning, System.Text.Encoding.UTF8.GetString((byte[])first["warning message"]));
        }

        var reply = await new Announcer(passkey, hash, UrlBytes.Random20(), 7002).AnnounceAsync(host, 0, 0, 10, "started");

        Assert.Equal("127.0.0.1:7001", Assert.Single(CompactPeers(reply)).ToString());
    }

    [Fact]
    public async Task UnknownPasskeysFromOneAddress_PastTheLimit_AreRefusedWithoutTouchingTheCluster_UntilTheMinuteEnds()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await TrackerHost.StartAsync(
            new Dictionary<string, string?> { ["Gateway:TrustedProxies:0"] = "127.0.0.1/32", ["Gateway:UnknownPasskeysPerMinute"] = "3" },
            clock: clock);
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);
        var management = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        async Task<Dictionary<string, object>> FromAsync(string client, Announcer peer)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, peer.Url(0, 0, 10, "started"));
            request.Headers.Add("X-Forwarded-For", client);
            using var response = await host.Http.SendAsync(request);
            return Bencode.DecodeDictionary(await response.Content.ReadAsByteArrayAsync());
        }

        // A client starting many torrents at once with its user's old passkey: one passkey, counted once.
        var stale = TrackerFixture.NewPasskey();
        var refusals = (await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => FromAsync("198.51.100.9", new Announcer(stale, UrlBytes.Random20(), UrlBytes.Random20())))))
            .Select(FailureReason).ToList();
        // Then random passkeys, each with a random info hash, as a flood would send them.
        for (var i = 0; i < 2; i++)
        {
            refusals.Add(FailureReason(await FromAsync("198.51.100.9", new Announcer(TrackerFixture.NewPasskey(), UrlBytes.Random20(), UrlBytes.Random20()))));
        }

        var junkHash = UrlBytes.Random20();
        var limited = FailureReason(await FromAsync("198.51.100.9", new Announcer(TrackerFixture.NewPasskey(), junkHash, UrlBytes.Random20())));
        var sameAddressRealUser = FailureReason(await FromAsync("198.51.100.9", new Announcer(passkey, hash, UrlBytes.Random20())));
        var otherAddress = FailureReason(await FromAsync("198.51.100.10", new Announcer(passkey, hash, UrlBytes.Random20())));
        var junkActivated = (await management.GetDetailedGrainStatistics()).Any(statistic => statistic.GrainId.ToString().Contains(Convert.ToHexStringLower(junkHash), StringComparison.Ordinal));
        clock.Advance(TimeSpan.FromMinutes(1));
        var aMinuteLater = FailureReason(await FromAsync("198.51.100.9", new Announcer(passkey, hash, UrlBytes.Random20())));

        Assert.All(refusals, reason => Assert.Equal(TrackerFailure.UnknownPasskey, reason));
        Assert.Equal(TrackerFailure.TooManyUnknownPasskeys, limited);
        Assert.False(junkActivated, "the limited announce's info hash activated a swarm");
        Assert.Equal(TrackerFailure.TooManyUnknownPasskeys, sameAddressRealUser);
        Assert.Null(otherAddress);
        Assert.Null(aMinuteLater);
    }

    [Fact]
    public async Task Announce_WithBep7AddressHints_IsAnsweredWithoutAWarning()
    {
        // As libtorrent sends them on every announce of a private torrent from a host with public addresses: a warning
        // would stand against the torrent in the client for good.
        await using var host = await TrackerHost.StartAsync();
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);

        using var hinted = await host.Http.GetAsync(new Announcer(passkey, hash, UrlBytes.Random20(), 7004).Url(0, 0, 0, "started", "ipv6=2001%3Adb8%3A%3A5&ipv4=203.0.113.9"));
        var reply = Bencode.DecodeDictionary(await hinted.Content.ReadAsByteArrayAsync());

        Assert.Null(FailureReason(reply));
        Assert.DoesNotContain("warning message", reply.Keys);
    }

    [Fact]
    public async Task Logs_NeverContainPasskeysOrTheAdminToken()
    {
        var lines = new ConcurrentQueue<string>();
        // Every category at Trace, as an operator chasing a problem might configure it: for all log providers, and for
        // one provider by name (as Logging:Console:LogLevel does), whose rules win over those for all providers.
        await using var host = await TrackerHost.StartAsync(
            new Dictionary<string, string?>
            {
                ["Logging:LogLevel:Default"] = "Trace",
                ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
                [$"Logging:{CapturingLoggerProvider.Alias}:LogLevel:Default"] = "Trace",
                [$"Logging:{CapturingLoggerProvider.Alias}:LogLevel:Microsoft.AspNetCore"] = "Trace",
                // Longer categories inside the ones turned off, whose rules would win over shorter ones.
                ["Logging:LogLevel:Microsoft.AspNetCore.Routing.Matching.DfaMatcher"] = "Trace",
                [$"Logging:{CapturingLoggerProvider.Alias}:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics.*"] = "Trace",
            },
            configure: builder =>
            {
                builder.Logging.SetMinimumLevel(LogLevel.Trace);
                builder.Logging.AddProvider(new CapturingLoggerProvider(lines));
            });
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);
        var peer = new Announcer(passkey, hash, UrlBytes.Random20());
        await peer.AnnounceAsync(host, 0, 0, 10, "started");
        await peer.AnnounceAsync(host, 10, 10, 0, "completed");
        await host.GetBencodeAsync($"/{passkey}/announce?info_hash=bad");
        await host.GetBencodeAsync($"/{TrackerFixture.NewPasskey()}/announce?info_hash=bad");
        var user = await host.WaitForAdminAsync($"/admin/users/{passkey}", d => d.GetProperty("stats").GetProperty("rawUploaded").GetInt64() == 10);

        var grainIds = (await host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics())
            .Select(statistic => statistic.GrainId.ToString()).ToList();

        Assert.Equal(10, user.GetProperty("stats").GetProperty("rawUploaded").GetInt64());
        Assert.NotEmpty(lines);
        Assert.Contains(grainIds, id => id.Contains(Convert.ToHexStringLower(hash), StringComparison.Ordinal));
        Assert.DoesNotContain(grainIds, id => id.Contains(passkey, StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(lines, line => line.Contains(passkey, StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(lines, line => line.Contains(host.AdminToken, StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Announces_AtTheShippedLogLevels_WriteNoLinePerRequest()
    {
        var lines = new ConcurrentQueue<string>();
        await using var host = await TrackerHost.StartAsync(
            ShippedLogLevels(),
            configure: builder =>
            {
                builder.Logging.SetMinimumLevel(LogLevel.Trace);
                builder.Logging.AddProvider(new CapturingLoggerProvider(lines));
            });
        var (passkey, hash) = await RegisterUserAndTorrentAsync(host);
        // Orleans' runtime warns of what a loaded machine does to it (its watchdog, a slow turn) at any moment: those are
        // not lines a request writes.
        int RequestLines() => lines.Count(line => !line.StartsWith("Orleans.", StringComparison.Ordinal));
        var linesBefore = RequestLines();

        for (var i = 0; i < 5; i++)
        {
            await new Announcer(passkey, hash, UrlBytes.Random20()).AnnounceAsync(host, 0, 0, 10, "started");
        }

        Assert.Equal(linesBefore, RequestLines());
    }

    [Fact]
    public async Task UnregisteredInfoHash_LeavesMemory_WithoutWarningOfStatisticsNotWritten()
    {
        var lines = new ConcurrentQueue<string>();
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var host = await TrackerHost.StartAsync(configure: builder => builder.Logging.AddProvider(new CapturingLoggerProvider(lines)), clock: clock);
        var (passkey, _) = await RegisterUserAndTorrentAsync(host);
        var junk = UrlBytes.Random20();
        var management = host.Services.GetRequiredService<IGrainFactory>().GetGrain<IManagementGrain>(0);
        async Task<bool> SwarmActiveAsync() =>
            (await management.GetDetailedGrainStatistics()).Any(statistic => statistic.GrainId.ToString().Contains(Convert.ToHexStringLower(junk), StringComparison.Ordinal));

        var reply = await new Announcer(passkey, junk, UrlBytes.Random20()).AnnounceAsync(host, 0, 0, 10, "started");
        var activeAfterTheAnnounce = await SwarmActiveAsync();
        var lifetime = host.Services.GetRequiredService<IOptions<SiteOptions>>().Value.UnknownKeyLifetime;
        await Eventually.TrueAsync(
            async () =>
            {
                clock.Advance(lifetime);
                return !await SwarmActiveAsync();
            },
            "the unregistered info hash's swarm left memory");

        Assert.Contains("failure reason", reply.Keys);
        Assert.True(activeAfterTheAnnounce);
        // It held nothing to write: an operator reads that warning as statistics lost.
        Assert.DoesNotContain(lines, line => line.Contains("statistics not written", StringComparison.Ordinal));
    }

    /// <summary>The "Logging:LogLevel" section of the gateway's shipped appsettings.json, and nothing else of it.</summary>
    private static Dictionary<string, string?> ShippedLogLevels()
    {
        var shipped = new ConfigurationBuilder().AddJsonFile(Path.Combine(RepositoryPaths.Root, "Gateway", "appsettings.json")).Build();
        var levels = shipped.GetSection("Logging:LogLevel").GetChildren().ToDictionary(level => $"Logging:LogLevel:{level.Key}", level => level.Value);
        Assert.Equal("Warning", levels["Logging:LogLevel:Microsoft.AspNetCore"]);
        return levels;
    }

    private static async Task<(string Passkey, byte[] InfoHash)> RegisterUserAndTorrentAsync(TrackerHost host)
    {
        var passkey = TrackerFixture.NewPasskey();
        await host.PutUserAsync(passkey, 1);
        var hash = UrlBytes.Random20();
        await host.PutTorrentAsync(hash, 1);
        return (passkey, hash);
    }

    [ProviderAlias(Alias)]
    private sealed class CapturingLoggerProvider(ConcurrentQueue<string> lines) : ILoggerProvider
    {
        public const string Alias = "Capture";

        public ILogger CreateLogger(string categoryName) => new CapturingLogger(categoryName, lines);

        public void Dispose()
        {
        }
    }

    private sealed class CapturingLogger(string category, ConcurrentQueue<string> lines) : ILogger
    {
        // The scopes a line is written in, as a console logger with IncludeScopes prints them (ASP.NET Core's request
        // scope holds the request's path).
        private static readonly AsyncLocal<ImmutableStack<string>> Scopes = new();

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull
        {
            var outer = Scopes.Value ?? [];
            var properties = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(' ', pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            Scopes.Value = outer.Push($"{state} {properties}");
            return new ScopeEnd(() => Scopes.Value = outer);
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var properties = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(' ', pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            lines.Enqueue($"{category} {formatter(state, exception)} {properties} {exception} {string.Join(" => ", Scopes.Value ?? [])}");
        }
    }

    private sealed class ScopeEnd(Action end) : IDisposable
    {
        public void Dispose() => end();
    }
}
