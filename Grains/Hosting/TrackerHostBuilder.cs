using Microsoft.AspNetCore.Builder;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>The web host builder of the tracker's programs, the gateway and the silo.</summary>
public static class TrackerHostBuilder
{
    /// <summary>
    /// Turns off the host's reload of its settings files while the process runs. Options are checked at start, where a
    /// bad value stops the start with one line (<see cref="StartupProblems"/>); a file edited later into a bad value
    /// (one out of range, a misspelt key) would instead make every read of those options throw, so every announce
    /// answered 500 until the file was put right. An edit takes effect at the next start, as environment variables do.
    /// </summary>
    internal const string NoSettingsReload = "--hostBuilder:reloadConfigOnChange=false";

    /// <summary>A builder reading appsettings.json from beside the program, wherever it is started from, and once.</summary>
    public static WebApplicationBuilder Create(string[] args) =>
        WebApplication.CreateBuilder(new WebApplicationOptions { Args = [.. args, NoSettingsReload], ContentRootPath = AppContext.BaseDirectory });
}
