using Chihaya.Orleans.Grains.Accounting;
using Chihaya.Orleans.Grains.Hosting;
using Chihaya.Orleans.Grains.Site;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace Chihaya.Orleans.Grains.Tests.Cluster;

/// <summary>One silo with the tracker's grains and the in-memory site, shared by a collection; each test uses its own keys.</summary>
public sealed class ClusterFixture : IAsyncLifetime
{
    public static readonly TimeSpan UnknownKeyLifetime = TimeSpan.FromSeconds(1);

    public TestCluster Cluster { get; } = new TestClusterBuilder(1)
        .AddSiloBuilderConfigurator<SiloConfigurator>()
        .Build();

    public IGrainFactory Grains => Cluster.GrainFactory;

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
            siloBuilder.AddTrackerGrains(new ConfigurationBuilder().Build());
            // A flush interval far beyond the test's length: tests flush explicitly, so timing cannot make them pass.
            siloBuilder.Services.Configure<StatsOptions>(options => options.FlushInterval = TimeSpan.FromHours(1));
            siloBuilder.Services.Configure<SiteOptions>(options => options.UnknownKeyLifetime = UnknownKeyLifetime);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ClusterCollection : ICollectionFixture<ClusterFixture>
{
    public const string Name = "cluster";
}
