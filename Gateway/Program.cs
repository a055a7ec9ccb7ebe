using Chihaya.Orleans.Gateway.Hosting;

var builder = WebApplication.CreateBuilder(args);
builder.AddTrackerGateway();

var app = builder.Build();
app.MapTracker();
app.Run();

/// <summary>The entry point, visible to tests that host the gateway.</summary>
public partial class Program;
