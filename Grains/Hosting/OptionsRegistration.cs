using Chihaya.Orleans.Grains.Interfaces.Options;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Chihaya.Orleans.Grains.Hosting;

/// <summary>One way to bind every options class: from its section, unknown keys rejected, checked at start.</summary>
public static class OptionsRegistration
{
    /// <summary>
    /// The "Tracker" section, which gateways and silos both read. Registered once even when the gateway and an
    /// embedded silo share one service collection.
    /// </summary>
    public static IServiceCollection AddTrackerOptions(this IServiceCollection services)
    {
        if (services.Any(descriptor => descriptor.ServiceType == typeof(IValidateOptions<TrackerOptions>)))
        {
            return services;
        }

        services.AddTrackerSection<TrackerOptions>(TrackerOptions.Section);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<TrackerOptions>, TrackerOptionsValidator>());
        return services;
    }

    public static OptionsBuilder<TOptions> AddTrackerSection<TOptions>(this IServiceCollection services, string section)
        where TOptions : class
    {
        return services.AddOptions<TOptions>()
            .BindConfiguration(section, binder => binder.ErrorOnUnknownConfiguration = true)
            .ValidateOnStart();
    }
}
