using Chihaya.Orleans.Grains.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Configuration.Json;

namespace Chihaya.Orleans.Grains.Tests.Hosting;

public sealed class TrackerHostBuilderTests
{
    [Fact]
    public void SettingsFiles_AreReadOnce_SoAFileEditedIntoABadValueCannotFailEveryRequestOfARunningProcess()
    {
        var builder = TrackerHostBuilder.Create([]);

        // Reloaded, an options class whose new values fail validation throws at every read (what announces and
        // scrapes read per request), until the file is put right; read once, the edit waits for the next start,
        // which a bad value stops with one line.
        var files = ((IConfigurationBuilder)builder.Configuration).Sources.OfType<JsonConfigurationSource>().ToList();
        Assert.Contains(files, file => file.Path == "appsettings.json");
        Assert.All(files, file => Assert.False(file.ReloadOnChange, $"{file.Path} is reloaded on change"));
    }
}
