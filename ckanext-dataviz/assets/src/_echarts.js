// Only the parts of Apache ECharts the views draw, rendered as SVG.
import * as echarts from "echarts/core";
import { BarChart, LineChart, PieChart, ScatterChart } from "echarts/charts";
import {
  AriaComponent, DataZoomComponent, GridComponent, LegendComponent, TitleComponent,
  TooltipComponent,
} from "echarts/components";
import { SVGRenderer } from "echarts/renderers";

echarts.use([BarChart, LineChart, PieChart, ScatterChart, AriaComponent, DataZoomComponent,
  GridComponent, LegendComponent, TitleComponent, TooltipComponent, SVGRenderer]);

export default echarts;
