using System.Net;
using Chihaya.Orleans.Gateway.Admin;
using Chihaya.Orleans.Gateway.Announce;
using Chihaya.Orleans.Gateway.Http;
using Chihaya.Orleans.Gateway.Metrics;
using Chihaya.Orleans.Gateway.Options;
using Chihaya.Orleans.Gateway.Status;
using Chihaya.Orleans.Grains.Health;
using Chihaya.Orleans.Grains.Interfaces;
using Chihaya.Orleans.Grains.Metrics;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Status;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Chihaya.Orleans.Gateway.Hosting;

/// <summary>Wires the gateway: its options, the announce path, and the way it reaches grains.</summary>
public static class TrackerGatewayExtensions
{
    private static readonly string[] PathLoggingCategories =
    [
        "Microsoft.AspNetCore.Hosting.Diagnostics",
        "Microsoft.AspNetCore.Server.Kestrel.BadRequests",
        "Microsoft.AspNetCore.HttpLogging",
        "Microsoft.AspNetCore.Routing.Matching",
    ];

    // The request line around the query: "GET /{passkey}/announce?" and " HTTP/1.1\r\n" take under 100 bytes.
    private const int RequestLineRoom = 256;

    private static void TurnOffPathLogging(LoggerFilterOptions options)
    {
        // A rule for a longer category wins over a shorter one ("...Routing.Matching.DfaMatcher" or "...Matching.*" over
        // "...Routing.Matching"), and of two alike the later: each configured rule inside these categories is repeated
        // here as off, besides the categories themselves for every provider.
        var configuredWithin = options.Rules
            .Where(rule => rule.CategoryName is { } configured && PathLoggingCategories.Any(category => configured.StartsWith(category, StringComparison.OrdinalIgnoreCase)))
            .Select(rule => (rule.ProviderName, Category: rule.CategoryName!))
            .ToList();
        var providers = options.Rules.Select(rule => rule.ProviderName).Where(name => name is not null).Distinct().Prepend(null).ToList();
        foreach (var (provider, category) in providers.SelectMany(provider => PathLoggingCategories.Select(category => (provider, category))).Concat(configuredWithin))
        {
            options.Rules.Add(new LoggerFilterRule(provider, category, LogLevel.None, filter: null));
        }
    }

    /// <summary>
    /// Adds the gateway. With <c>Cluster:Mode</c> = Embedded the silo runs in this process; with Client
    /// the gateway connects to silos elsewhere.
    /// </summary>
    public static WebApplicationBuilder AddTrackerGateway(this WebApplicationBuilder builder)
    {
        var services = builder.Services;

        // Every announce path holds a passkey. These categories write request paths or raw request lines (at
        // Information, Debug or Trace), so they are off whatever level is configured. A rule naming a log provider
        // ("Logging:Console:LogLevel", or the rules dotnet-trace adds for EventSource) wins over every rule for all
        // providers, so the "off" rule is added for each provider the rules name as well as for all, after everything
        // configured (and again whenever the rules change). All other categories keep the configured level (shipped:
        // Warning for Microsoft.AspNetCore, so no line per request).
        services.PostConfigure<LoggerFilterOptions>(TurnOffPathLogging);

        services.AddTrackerSection<GatewayOptions>(GatewayOptions.Section)
            .Validate(o => o.MaxQueryLength is >= 256 and <= GatewayOptions.MaxQueryLengthLimit, $"Gateway:MaxQueryLength must be between 256 and {GatewayOptions.MaxQueryLengthLimit}.")
            .Validate(o => o.ClusterRetryFor >= TimeSpan.Zero && o.ClusterRetryFor <= TimeSpan.FromMinutes(1), "Gateway:ClusterRetryFor must be between 00:00:00 and 00:01:00.")
            .Validate(o => o.UnknownKeyLifetime >= TimeSpan.Zero && o.UnknownKeyLifetime <= TimeSpan.FromMinutes(10), "Gateway:UnknownKeyLifetime must be between 00:00:00 and 00:10:00.")
            .Validate(o => o.UnknownPasskeysPerMinute >= 0, "Gateway:UnknownPasskeysPerMinute must be 0 (no limit) or more.")
            .Validate(o => o.MaxScrapeHashes is >= 1 and <= GatewayOptions.MaxScrapeHashesLimit, $"Gateway:MaxScrapeHashes must be between 1 and {GatewayOptions.MaxScrapeHashesLimit}.")
            .Validate(
                o => o.MaxQueryLength >= GatewayOptions.EncodedScrapeHashLength * o.MaxScrapeHashes,
                $"Gateway:MaxQueryLength must be at least {GatewayOptions.EncodedScrapeHashLength} × Gateway:MaxScrapeHashes, or the largest scrape allowed is refused as too long.")
            .Validate(o => TrustedProxies.AreValid(o.TrustedProxies), "Gateway:TrustedProxies must be IP addresses or CIDR ranges (e.g. 10.0.0.5, 10.0.0.0/8, fd00::/8).");
        services.AddTrackerSection<AdminOptions>(AdminOptions.Section)
            .Validate(o => o.Token.Length == 0 || AdminOptions.IsStrongEnough(o.Token), AdminOptions.WeakTokenProblem)
            .Validate<IConfiguration>(
                (o, configuration) => o.PortIsAmong(configuration[WebHostDefaults.ServerUrlsKey]),
                AdminOptions.PortProblem);
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<GatewayOptions>>((kestrel, gateway) =>
        {
            // Kestrel reads the request line before any of our code: it must let every query the gateway accepts
            // through, so that one too long still gets the failure reason clients show, not a bare 414.
            kestrel.Limits.MaxRequestLineSize = gateway.Value.MaxQueryLength + RequestLineRoom;
            kestrel.RequestHeaderEncodingSelector = name =>
                string.Equals(name, HeaderNames.ContentLength, StringComparison.OrdinalIgnoreCase) ? ContentLengthEncoding.Instance : null;
        });
        services.AddTrackerOptions();
        // The same stop bound as a silo's (which the embedded mode sets too): a client gateway would otherwise keep
        // .NET's 30 s, past the 26 s at which ShutdownDeadline ends the process, and be cut off instead of stopping.
        services.Configure<HostOptions>(options => options.ShutdownTimeout = ShutdownDeadline.HostStopTimeout);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<ClientAddressResolver>();
        services.AddSingleton<ClusterRetry>();
        services.AddTrackerMetrics();
        services.AddSingleton<GatewayMetrics>();
        services.AddSingleton<TorrentGrainReferences>();
        services.AddSingleton<UnknownKeys>();
        services.AddSingleton<UnknownPasskeyLimit>();
        services.AddSingleton<AnnounceHandler>();
        services.AddSingleton<AnnounceEndpoint>();
        services.AddSingleton<ScrapeEndpoint>();
        services.AddSingleton<AdminTokenFilter>();
        services.AddStatusOptions();
        services.AddHostedService<GatewayStatusReporter>();

        var cluster = TrackerSiloHosting.ReadClusterOptions(builder.Configuration);
        if (cluster.Mode.Equals(ClusterModes.Embedded, StringComparison.OrdinalIgnoreCase))
        {
            builder.UseOrleans(silo => silo.UseTrackerSilo(cluster, builder.Configuration));
            services.AddHostedService<EmbeddedDemoBanner>();
        }
        else if (cluster.Mode.Equals(ClusterModes.Client, StringComparison.OrdinalIgnoreCase))
        {
            builder.UseOrleansClient(client => client.UseTrackerCluster(cluster));
            services.AddClusterClientReadiness();
        }
        else
        {
            throw new StartupProblemException($"Cluster:Mode must be {ClusterModes.Embedded} or {ClusterModes.Client}, not '{cluster.Mode}'.");
        }

        return builder;
    }

    /// <summary>
    /// The ports this process will listen on, with the setting that names each: the gateway's URLs and, when the
    /// silo is embedded, the silo's ports. Checked before start so a taken port is one clear line.
    /// </summary>
    public static IEnumerable<(string Setting, IPEndPoint Endpoint)> TrackerListeners(this WebApplication app)
    {
        foreach (var listener in StartupProblems.HttpListeners(app.Configuration[WebHostDefaults.ServerUrlsKey]))
        {
            yield return listener;
        }

        var cluster = TrackerSiloHosting.ReadClusterOptions(app.Configuration);
        if (cluster.Mode.Equals(ClusterModes.Embedded, StringComparison.OrdinalIgnoreCase))
        {
            foreach (var listener in StartupProblems.SiloListeners(cluster))
            {
                yield return listener;
            }
        }
    }

    /// <summary>Maps announce, scrape, the admin API, the status page, and liveness and readiness probes.</summary>
    public static WebApplication MapTracker(this WebApplication app)
    {
        var announce = app.Services.GetRequiredService<AnnounceEndpoint>();
        var scrape = app.Services.GetRequiredService<ScrapeEndpoint>();

        // First, so that nothing reads a body whose length is in doubt.
        app.Use(RequestFraming.RefuseAmbiguousAsync);
        // A site that builds the URL with an empty passkey sends //announce, which no route matches (a route's segment
        // is never empty): the client gets the private tracker's failure reason rather than a bare 404.
        app.Use((context, next) => context.GetEndpoint() is null && context.Request.Path.Value is "//announce" or "//scrape"
            ? AnnounceEndpoint.MissingPasskeyAsync(context)
            : next(context));
        app.MapGet(AnnounceEndpoint.Route, announce.InvokeAsync);
        app.MapGet(ScrapeEndpoint.Route, scrape.InvokeAsync);
        app.MapGet("/announce", AnnounceEndpoint.MissingPasskeyAsync);
        app.MapGet("/scrape", AnnounceEndpoint.MissingPasskeyAsync);
        app.MapHealthEndpoints();
        // What only the site and its operators use: on the admin port alone when one is set (AdminOptions.Port).
        app.Use(OperatorPort.Middleware(app.Services.GetRequiredService<IOptions<AdminOptions>>()));
        var operatorSurface = app.MapGroup("").WithMetadata(OperatorPort.Marker);
        operatorSurface.MapMetricsEndpoint();
        operatorSurface.MapAdminApi();
        operatorSurface.MapStatusPage();
        return app;
    }
}
