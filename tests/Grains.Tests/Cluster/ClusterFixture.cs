using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>One silo with the tracker's grains and the in-memory site, shared by a collection; each test uses its own keys.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan UnknownKeyLifetime = TimeSpan.FromSeconds(1);

    /// <summary>Longer than any other period the tests advance the clock by, so only a test that means to flush does.</summary>
    public static readonly TimeSpan FlushInterval = TimeSpan.FromMinutes(10);

    public TestCluster Cluster { get; } = new TestClusterBuilder(1)
        .AddSiloBuilderConfigurator<SiloConfigurator>()
        .Build();

    public IGrainFactory Grains => Cluster.GrainFactory;

    /// <summary>The grains' clock: their timers fire only when a test advances it.</summary>
    public static FakeTimeProvider Clock { get; } = new(DateTimeOffset.UtcNow);

    public Task InitializeAsync() => Cluster.DeployAsync();

    public async Task DisposeAsync()
    {
        await Cluster.StopAllSilosAsync();
        await Cluster.DisposeAsync();
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder)
        {
            siloBuilder.Services.AddSingleton<TimeProvider>(Clock);
            siloBuilder.AddTrackerGrains(new ConfigurationBuilder().Build());
            siloBuilder.Services.Configure<StatsOptions>(options => options.FlushInterval = FlushInterval);
            siloBuilder.Services.Configure<SiteOptions>(options => options.UnknownKeyLifetime = UnknownKeyLifetime);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
