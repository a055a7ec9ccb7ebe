using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>One way to bind every options class: from its section, unknown keys rejected, checked at start.</summary>
public static class OptionsRegistration
{
    public static OptionsBuilder<TOptions> AddTrackerSection<TOptions>(this IServiceCollection services, string section)
        where TOptions : class
    {
        return services.AddOptions<TOptions>()
            .BindConfiguration(section, binder => binder.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
    }
}
