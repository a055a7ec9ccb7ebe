using Chihaya.Orleans.Gateway.Hosting;
using Chihaya.Orleans.Grains.Interfaces.Documents;

namespace Chihaya.Orleans.Gateway.Tests.Hosting;

/// <summary>
/// The banner's rule for whose URL it may print, whatever file the seed came from: the shipped seed file's path may
/// hold an operator's real users (DemoBannerTests runs the whole program, with the shipped file and with another).
/// </summary>
public sealed class EmbeddedDemoBannerTests
{
    [Fact]
    public void PublishedDemoPasskey_IsTheShippedSeedFilesFirstUser_AndTheOnlyOnePrinted()
    {
        var shipped = SiteSeed.Read(Path.Combine(AppContext.BaseDirectory, "seed", "demo.json")).Users[0];

        Assert.True(EmbeddedDemoBanner.IsPublishedDemoUser(shipped));
        Assert.False(EmbeddedDemoBanner.IsPublishedDemoUser(shipped with { Passkey = "operatorsrealpasskey000000000001" }));
    }
}
