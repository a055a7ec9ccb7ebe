using Chihaya.Orleans.Gateway.Hosting;

// appsettings.json lives beside the program, wherever it is started from.
var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.AddTrackerGateway();

var app = builder.Build();
app.MapTracker();
app.Run();

/// <summary>The entry point, visible to tests that host the gateway.</summary>
public partial class Program;
